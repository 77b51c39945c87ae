import type { Db } from "./db.js";
export declare function migrate(db: Db): Promise<string[]>;

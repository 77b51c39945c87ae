import { backupSuite } from "./backup-suite.js";

backupSuite("filesystem", async () => ({ env: {}, stop: async () => {} }));

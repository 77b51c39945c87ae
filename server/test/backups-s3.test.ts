import { backupSuite } from "./backup-suite.js";
import { startS3 } from "../../test/harness/s3.js";

backupSuite("S3", startS3);

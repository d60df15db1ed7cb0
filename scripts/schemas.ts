/**
 * npm run schemas — writes harness/schema-validators.cjs, ajv's standalone validators for the file
 * schemas in harness/schema.ts. Run it after changing a schema (a test in test/hostile.test.ts says
 * when it is needed); until then readers compile the schemas at start-up instead.
 */
import fs from 'node:fs';
import { VALIDATORS_FILE, validatorsSource } from '../harness/schema.ts';

fs.writeFileSync(VALIDATORS_FILE, validatorsSource());
console.log(`wrote ${VALIDATORS_FILE}`);

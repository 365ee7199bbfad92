/** `npm run schema:emit`: writes schema.graphql from the code. A test fails when the committed file drifts. */
import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createSchema, printSchemaFile } from './index.js';

const target = fileURLToPath(new URL('../../schema.graphql', import.meta.url));
await writeFile(target, printSchemaFile(await createSchema()));
process.stdout.write(`wrote ${target}\n`);

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAdapterTests } from '@reprise/adapter-tests';
import { FileAdapter } from '../src/file-adapter.js';

// One directory for the whole run; the suite gives every check keys of its own and deletes them.
const dir = mkdtempSync(join(tmpdir(), 'reprise-file-adapter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runAdapterTests('FileAdapter', () => new FileAdapter({ dir }));

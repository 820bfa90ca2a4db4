#!/usr/bin/env node
import { main } from './main.js';

// A reader that goes away (`reprise list | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2), {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  raw: (bytes) => void process.stdout.write(bytes),
});

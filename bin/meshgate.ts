#!/usr/bin/env node
import { createBridges } from '../bridges/mod.js';
/**
 * The `meshgate` executable: the composition root. It is the one module
 * that sees both broker/ and bridges/, so that broker/ never imports what
 * sits above it in DESIGN.md's dependency order.
 */
import { runCli } from '../broker/cli/mod.js';

process.exitCode = await runCli(process.argv.slice(2), { bridges: createBridges });

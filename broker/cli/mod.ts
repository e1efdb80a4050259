/**
 * broker/cli/: the `meshgate` command. start, pub, sub, peers, token,
 * schema; the small WebSocket and HTTP clients those commands use.
 * Imports broker/node/, broker/config/, broker/auth/ and below.
 */
export { runCli } from './cli.js';

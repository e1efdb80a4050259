import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM file paths of one certificate and its key. */
export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestPki {
  readonly dir: string;
  /** The mesh's CA. */
  readonly caFile: string;
  /** Signs `cert(name)`. */
  readonly ca: CertFiles;
  /** A second, unrelated CA. */
  readonly otherCaFile: string;
  /** A leaf for 127.0.0.1/localhost signed by the mesh CA, valid for a day. */
  cert(name: string): CertFiles;
  /** Signed by the mesh CA but expired yesterday. */
  expired(name: string): CertFiles;
  /** Valid dates, but signed by the other CA. */
  wrongCa(name: string): CertFiles;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Generates a throwaway PKI with the openssl command in a temp dir: a CA,
 * leaves for nodes (serverAuth + clientAuth, SAN IP:127.0.0.1 and
 * DNS:localhost, so one certificate serves a node as TLS server and as
 * dialing client), an expired leaf and a leaf from another CA. EC P-256
 * keys: fast to make.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(process.env.MESHGATE_TEST_TMP ?? tmpdir(), 'mg-pki-'));
  const ext = join(dir, 'leaf.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  const makeCa = (name: string) => {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
      ],
      dir,
    );
    return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  };
  const ca = makeCa('mesh-ca');
  const other = makeCa('other-ca');
  let serial = 1;
  const leaf = (name: string, signer: CertFiles, days: number): CertFiles => {
    openssl(
      ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
      dir,
    );
    // A negative -days puts notAfter before now: an expired certificate.
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        signer.certFile,
        '-CAkey',
        signer.keyFile,
        '-set_serial',
        String(serial++),
        '-out',
        `${name}.pem`,
        '-days',
        String(days),
        '-extfile',
        ext,
      ],
      dir,
    );
    return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
  };
  return {
    dir,
    caFile: ca.certFile,
    ca,
    otherCaFile: other.certFile,
    cert: (name) => leaf(name, ca, 1),
    expired: (name) => leaf(`${name}-expired`, ca, -1),
    wrongCa: (name) => leaf(`${name}-wrong-ca`, other, 1),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Secrets never reach a terminal or a log: error messages that echo a
 * configured value pass it through here first.
 */

/**
 * Keys whose values are secrets, wherever they sit: auth.jwt.secret,
 * auth.tokens[].token, mesh.key, tls.passphrase, bridges[].password, and
 * any later key named like them (`...Secret`, `...Password`, `...Token`,
 * `...Key` such as `privateKey`), and webhooks[].headers (an Authorization
 * header). `keyFile` and `maxTokens` are not secrets.
 */
const SECRET_KEY = /^(?:key|secret|token|tokens|password|passphrase|headers)$|[a-z](?:Secret|Password|Passphrase|Token|Key)$/;

/** True when the config key `name` holds a secret. */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY.test(name);
}

/** 'amqp://user:pass@host' -> 'amqp://user:***@host'; text without a URL password is returned as is. */
export function redactUrl(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@');
}

/**
 * A value as an error message may show it: JSON, with every secret-named
 * key's value and every URL password replaced. When the value itself sits
 * under a secret key (`secretPath`), only its type and length are told.
 */
export function showValue(value: unknown, secretPath: boolean): string {
  if (secretPath) {
    const what =
      typeof value === 'string'
        ? `a string of ${value.length} character${value.length === 1 ? '' : 's'}`
        : Array.isArray(value)
          ? `an array of ${value.length}`
          : value === null
            ? 'null'
            : `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
    return `${what} (secret, not shown)`;
  }
  const text = JSON.stringify(value, (key, v: unknown) =>
    key !== '' && isSecretKey(key) && v !== undefined ? '(secret, not shown)' : typeof v === 'string' ? redactUrl(v) : v,
  );
  return text === undefined ? 'nothing' : text;
}

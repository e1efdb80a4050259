/**
 * Header-value percent-encoding of the CloudEvents HTTP binding §3.1.3.2 (the NATS binding uses the same rule)
 * : space, `"`, `%` and every
 * character outside printable ASCII U+0021-U+007E are written as the
 * upper-case `%XY` of each UTF-8 byte. Decoding first undoes an RFC 7230
 * §3.2.6 quoted-string, then one round of percent-decoding; sequences that
 * are not valid UTF-8 (overlongs such as `%C0%A0`) are refused.
 */

/** @example percentEncode('Euro € 😀') // 'Euro%20%E2%82%AC%20%F0%9F%98%80' */
export function percentEncode(value: string): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x25) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const HEX = /^[0-9A-Fa-f]{2}$/;

/** The attribute value of a header, or null when it is malformed (bad escape or invalid UTF-8). */
export function percentDecode(header: string): string | null {
  let text = header.trim();
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    text = text.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(text[i], 'utf8')) bytes.push(b);
  }
  try {
    return STRICT_UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

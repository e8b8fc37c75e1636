/**
 * TLS failures in an operator's words. Node hands over OpenSSL's error strings
 * ("...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:..."), which say
 * what OpenSSL tripped on, not what is wrong with the real; these say what to look at.
 */

/** OpenSSL's reasons when the other side answered something that is not TLS. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_UNKNOWN_PROTOCOL',
]);

/** Certificate verification codes (X509_V_ERR_* as Node names them). */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
]);

type TlsError = Error & { code?: string; reason?: string };

export function tlsFailure(err: unknown): string {
  const e = (err instanceof Error ? err : new Error(String(err))) as TlsError;
  const code = e.code ?? '';
  if (NOT_TLS.has(code)) return 'TLS handshake failed: the server did not answer TLS';
  if (code === 'ECONNRESET' || /disconnected before secure TLS/.test(e.message))
    return 'TLS handshake failed: the server closed the connection';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `TLS certificate does not cover the name: ${e.reason ?? e.message}`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `TLS certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not yet valid'}`;
  if (UNTRUSTED.has(code))
    return `TLS certificate not trusted: ${e.message} (set ca to its CA file, or verify: false)`;
  if (code.startsWith('ERR_SSL_')) {
    const reason = e.reason ?? code.slice('ERR_SSL_'.length).toLowerCase().replaceAll('_', ' ');
    const hint = /certificate required|bad certificate|unknown ca/.test(reason)
      ? ' (the server wants a client certificate it trusts: cert and key)'
      : '';
    return `TLS handshake failed: ${reason}${hint}`;
  }
  return e.message || code || 'TLS failed';
}

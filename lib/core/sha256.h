/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), implemented here from
 * the published algorithms; no external crypto library.
 *
 * Nothing here allocates: contexts and keys are plain structs owned by the
 * caller (stack or embedded), and digests are written to caller buffers of
 * SHA256_DIGEST_LEN bytes. No function fails or returns an error.
 *
 * Streaming use: sha256_init, any number of sha256_update calls (pieces of
 * any size, including 0), then sha256_final, which writes the digest and
 * leaves the context spent (call sha256_init again to reuse it).
 *
 * The key struct holds secret-derived state; callers that care should wipe
 * it when done. Comparisons of MACs are the caller's business (use a
 * constant-time compare). */
#ifndef SFT_SHA256_H
#define SFT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;          /* total bytes absorbed so far */
    unsigned char block[64];  /* pending partial block */
    size_t fill;              /* bytes used in block, 0..63 */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Writes the 32-byte digest of everything passed to sha256_update. */
void sha256_final(sha256_ctx *c, unsigned char out[SHA256_DIGEST_LEN]);
/* One-shot: the digest of data[0..len). */
void sha256(const void *data, size_t len, unsigned char out[SHA256_DIGEST_LEN]);

/* HMAC with a precomputed key: init once per key, then hmac many messages
 * cheaply. hmac_sha256_key_init stores the SHA-256 contexts after absorbing
 * key^ipad and key^opad (keys longer than 64 bytes are first hashed, as RFC
 * 2104 says); each hmac_sha256 call copies them and leaves *k unchanged, so
 * one key may be used from several threads at once. */
typedef struct {
    sha256_ctx inner, outer;
} hmac_sha256_key;

void hmac_sha256_key_init(hmac_sha256_key *k, const void *key, size_t keylen);
/* Writes the full 32-byte HMAC-SHA256 of msg[0..len) under k. */
void hmac_sha256(const hmac_sha256_key *k, const void *msg, size_t len,
                 unsigned char out[SHA256_DIGEST_LEN]);

#endif

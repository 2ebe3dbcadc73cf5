#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/sha256.h"

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void check_sha(const void *data, size_t len, const char *want)
{
    unsigned char d[SHA256_DIGEST_LEN];
    char hex[2 * SHA256_DIGEST_LEN + 1];
    sha256(data, len, d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, want);
}

/* FIPS 180-2 appendix B / NIST example values. */
static void test_sha256_fips_vectors(void **state)
{
    (void)state;
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m448), 56);
    check_sha(m448, 56, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_million_a(void **state)
{
    (void)state;
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *buf = malloc(1000000);
    assert_non_null(buf);
    memset(buf, 'a', 1000000);
    check_sha(buf, 1000000, want);
    free(buf);

    /* The same million fed 1000 bytes at a time. */
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    sha256_ctx c;
    sha256_init(&c);
    for (int i = 0; i < 1000; i++) sha256_update(&c, chunk, sizeof chunk);
    unsigned char d[SHA256_DIGEST_LEN];
    char hex[2 * SHA256_DIGEST_LEN + 1];
    sha256_final(&c, d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, want);
}

/* Lengths around the padding boundaries (55/56/63/64 bytes) and pieces of
 * every awkward size must give the one-shot digest. */
static void test_sha256_pieces_match_oneshot(void **state)
{
    (void)state;
    enum { N = 300 };
    unsigned char msg[N];
    for (int i = 0; i < N; i++) msg[i] = (unsigned char)(i * 31 + 7);
    static const size_t pieces[] = {1, 2, 3, 7, 55, 56, 57, 63, 64, 65, 127, 128, 129};

    for (size_t len = 0; len <= N; len++) {
        unsigned char want[SHA256_DIGEST_LEN];
        sha256(msg, len, want);
        for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
            sha256_ctx c;
            sha256_init(&c);
            size_t off = 0;
            while (off < len) {
                size_t n = pieces[pi];
                if (n > len - off) n = len - off;
                sha256_update(&c, msg + off, n);
                sha256_update(&c, msg + off + n, 0); /* empty updates are no-ops */
                off += n;
            }
            unsigned char got[SHA256_DIGEST_LEN];
            sha256_final(&c, got);
            assert_memory_equal(got, want, SHA256_DIGEST_LEN);
        }
        /* Mixed sizes: 1, 63, 64, 65, then the rest. */
        static const size_t mix[] = {1, 63, 64, 65};
        sha256_ctx c;
        sha256_init(&c);
        size_t off = 0;
        for (size_t mi = 0; mi < 4 && off < len; mi++) {
            size_t n = mix[mi] < len - off ? mix[mi] : len - off;
            sha256_update(&c, msg + off, n);
            off += n;
        }
        sha256_update(&c, msg + off, len - off);
        unsigned char got[SHA256_DIGEST_LEN];
        sha256_final(&c, got);
        assert_memory_equal(got, want, SHA256_DIGEST_LEN);
    }
}

/* The context can be reused after sha256_init. */
static void test_sha256_reinit(void **state)
{
    (void)state;
    sha256_ctx c;
    unsigned char d[SHA256_DIGEST_LEN];
    char hex[2 * SHA256_DIGEST_LEN + 1];
    sha256_init(&c);
    sha256_update(&c, "garbage", 7);
    sha256_final(&c, d);
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_final(&c, d);
    to_hex(d, sizeof d, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void check_hmac(const void *key, size_t keylen, const void *msg, size_t len,
                       const char *want)
{
    hmac_sha256_key k;
    unsigned char d[SHA256_DIGEST_LEN];
    char hex[2 * SHA256_DIGEST_LEN + 1];
    hmac_sha256_key_init(&k, key, keylen);
    hmac_sha256(&k, msg, len, d);
    to_hex(d, sizeof d, hex);
    /* want may be a truncated MAC (RFC 4231 case 5): compare its prefix. */
    size_t wl = strlen(want);
    assert_true(wl % 2 == 0 && wl <= 2 * SHA256_DIGEST_LEN);
    hex[wl] = '\0';
    assert_string_equal(hex, want);
    /* The key is reusable: a second MAC with it is the same. */
    unsigned char d2[SHA256_DIGEST_LEN];
    hmac_sha256(&k, msg, len, d2);
    assert_memory_equal(d, d2, SHA256_DIGEST_LEN);
}

/* RFC 4231 section 4, HMAC-SHA-256 values. */
static void test_hmac_rfc4231(void **state)
{
    (void)state;
    unsigned char key[131];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 2: key shorter than the output */
    check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* Test case 3: 50 bytes of 0xdd */
    unsigned char data[50];
    memset(key, 0xaa, 20);
    memset(data, 0xdd, sizeof data);
    check_hmac(key, 20, data, sizeof data,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    /* Test case 4: key 0x01..0x19, 50 bytes of 0xcd */
    for (int i = 0; i < 25; i++) key[i] = (unsigned char)(i + 1);
    memset(data, 0xcd, sizeof data);
    check_hmac(key, 25, data, sizeof data,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    /* Test case 5: output truncated to 128 bits */
    memset(key, 0x0c, 20);
    check_hmac(key, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");

    /* Test case 6: 131-byte key, larger than the block size */
    memset(key, 0xaa, 131);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(key, 131, m6, strlen(m6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* Test case 7: large key and data larger than the block size */
    const char *m7 = "This is a test using a larger than block-size key and a larger "
                     "than block-size data. The key needs to be hashed before being "
                     "used by the HMAC algorithm.";
    check_hmac(key, 131, m7, strlen(m7),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* A key of exactly 64 bytes is used as is; one of 65 bytes is hashed first,
 * so HMAC(k65) equals HMAC(sha256(k65)). */
static void test_hmac_key_lengths(void **state)
{
    (void)state;
    unsigned char key[65], hk[SHA256_DIGEST_LEN];
    unsigned char a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    hmac_sha256_key k1, k2;
    for (int i = 0; i < 65; i++) key[i] = (unsigned char)(i * 5 + 3);

    sha256(key, 65, hk);
    hmac_sha256_key_init(&k1, key, 65);
    hmac_sha256_key_init(&k2, hk, sizeof hk);
    hmac_sha256(&k1, "msg", 3, a);
    hmac_sha256(&k2, "msg", 3, b);
    assert_memory_equal(a, b, SHA256_DIGEST_LEN);

    /* 64 bytes is not hashed: differs from HMAC under sha256(key64). */
    sha256(key, 64, hk);
    hmac_sha256_key_init(&k1, key, 64);
    hmac_sha256_key_init(&k2, hk, sizeof hk);
    hmac_sha256(&k1, "msg", 3, a);
    hmac_sha256(&k2, "msg", 3, b);
    assert_memory_not_equal(a, b, SHA256_DIGEST_LEN);

    /* An empty key is zero-padded to the block: same as 64 zero bytes. */
    unsigned char zeros[64] = {0};
    hmac_sha256_key_init(&k1, NULL, 0);
    hmac_sha256_key_init(&k2, zeros, sizeof zeros);
    hmac_sha256(&k1, NULL, 0, a);
    hmac_sha256(&k2, "", 0, b);
    assert_memory_equal(a, b, SHA256_DIGEST_LEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_pieces_match_oneshot),
        cmocka_unit_test(test_sha256_reinit),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_key_lengths),
    };
    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}

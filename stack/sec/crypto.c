/*
 * crypto.c — the OpenSSL 3 EVP primitives stack/sec uses: HKDF-SHA256, HMAC-SHA256,
 * X25519 and the two AEADs.  Algorithms are fetched once per ms_ctx so the data path
 * never does an implicit fetch.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ms_int.h"

int ms_rand(const ms_ctx *ctx, uint8_t *buf, size_t n)
{
    if (ctx->cfg.rng.fill)
        return ctx->cfg.rng.fill(ctx->cfg.rng.user, buf, n) == 0 ? MS_OK : MS_ERNG;
    if (n > (size_t)INT32_MAX)
        return MS_EINVAL;
    return RAND_bytes(buf, (int)n) == 1 ? MS_OK : MS_ERNG;
}

static int ms_hkdf(const ms_ctx *ctx, int mode, const uint8_t *salt, size_t salt_len,
                   const uint8_t *key, size_t key_len, const uint8_t *info, size_t info_len,
                   uint8_t *out, size_t out_len)
{
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(ctx->hkdf);
    if (!k)
        return MS_ECRYPTO;
    OSSL_PARAM p[6], *q = p;
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    if (salt)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *q = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(k, out, out_len, p);
    EVP_KDF_CTX_free(k);
    return ok == 1 ? MS_OK : MS_ECRYPTO;
}

int ms_hkdf_extract(const ms_ctx *ctx, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len, uint8_t prk[32])
{
    return ms_hkdf(ctx, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL,
                   0, prk, 32);
}

int ms_hkdf_expand(const ms_ctx *ctx, const uint8_t prk[32], const uint8_t *info,
                   size_t info_len, uint8_t *out, size_t out_len)
{
    return ms_hkdf(ctx, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, 32, info, info_len, out,
                   out_len);
}

int ms_hmac(const ms_ctx *ctx, const uint8_t *key, size_t key_len, const uint8_t *const *parts,
            const size_t *lens, size_t nparts, uint8_t mac[MS_MAC_LEN])
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(ctx->hmac);
    if (!m)
        return MS_ECRYPTO;
    OSSL_PARAM p[2];
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_end();
    int ok = EVP_MAC_init(m, key, key_len, p);
    for (size_t i = 0; ok == 1 && i < nparts; i++)
        ok = EVP_MAC_update(m, parts[i], lens[i]);
    size_t outl = 0;
    if (ok == 1)
        ok = EVP_MAC_final(m, mac, &outl, MS_MAC_LEN);
    EVP_MAC_CTX_free(m);
    return ok == 1 && outl == MS_MAC_LEN ? MS_OK : MS_ECRYPTO;
}

int ms_x25519_new(const ms_ctx *ctx, EVP_PKEY **priv, uint8_t pub[MS_PUB_LEN])
{
    uint8_t raw[32];
    int rc = ms_rand(ctx, raw, sizeof raw);
    if (rc < 0)
        return rc;
    /* OpenSSL clamps the scalar itself. */
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    if (!k)
        return MS_ECRYPTO;
    size_t pl = MS_PUB_LEN;
    if (EVP_PKEY_get_raw_public_key(k, pub, &pl) != 1 || pl != MS_PUB_LEN) {
        EVP_PKEY_free(k);
        return MS_ECRYPTO;
    }
    *priv = k;
    return MS_OK;
}

int ms_x25519_derive(EVP_PKEY *priv, const uint8_t peer_pub[MS_PUB_LEN], uint8_t z[32])
{
    int rc = MS_ECRYPTO;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, MS_PUB_LEN);
    EVP_PKEY_CTX *d = peer ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
    size_t zl = 32;
    if (d && EVP_PKEY_derive_init(d) == 1 && EVP_PKEY_derive_set_peer(d, peer) == 1) {
        /* OpenSSL refuses an all-zero result (small-order peer key) itself; check anyway
         * (MSG-SEC-10) so the rule does not depend on the library version. */
        if (EVP_PKEY_derive(d, z, &zl) == 1 && zl == 32) {
            uint8_t acc = 0;
            for (size_t i = 0; i < 32; i++)
                acc |= z[i];
            rc = acc ? MS_OK : MS_EKX_FAILED;
        } else {
            rc = MS_EKX_FAILED;
        }
    }
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
    return rc;
}

EVP_CIPHER_CTX *ms_aead_new(const ms_ctx *ctx, uint16_t suite, const uint8_t key[MS_KEY_LEN],
                            int enc)
{
    const EVP_CIPHER *c = suite == MP_SUITE_AES256GCM ? ctx->aes
                          : suite == MP_SUITE_CHACHA20POLY1305 ? ctx->chacha
                                                               : NULL;
    if (!c)
        return NULL;
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (!x)
        return NULL;
    /* Both suites default to a 12-byte nonce; the key schedule is done once here and
     * each frame only sets the nonce. */
    if (EVP_CipherInit_ex2(x, c, key, NULL, enc, NULL) != 1 ||
        EVP_CIPHER_CTX_get_iv_length(x) != (int)MS_NONCE_LEN) {
        EVP_CIPHER_CTX_free(x);
        return NULL;
    }
    return x;
}

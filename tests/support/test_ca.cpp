#include "support/test_ca.hpp"

#include <atomic>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace tollgate::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CertFree {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

[[noreturn]] void fail(const std::string& what) {
  std::string detail;
  if (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    detail = std::string(": ") + buf;
  }
  ERR_clear_error();
  throw std::runtime_error("test CA: " + what + detail);
}

template <class T>
T* check(T* p, const std::string& what) {
  if (p == nullptr) fail(what);
  return p;
}

void check(int ok, const std::string& what) {
  if (ok != 1) fail(what);
}

KeyPtr make_key() { return KeyPtr(check(EVP_EC_gen("P-256"), "EC key generation")); }

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = check(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()), "extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, "add extension " + value);
}

// A fresh v3 certificate for `key` named `common_name`; the caller adds extensions and signs.
CertPtr make_cert(EVP_PKEY* key, const std::string& common_name) {
  static std::atomic<long> serial{0x5e7a1};
  CertPtr cert(check(X509_new(), "X509_new"));
  check(X509_set_version(cert.get(), 2), "set version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial), "set serial");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600), "set notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600), "set notAfter");
  check(X509_set_pubkey(cert.get(), key), "set public key");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Tollgate tests"),
                                   -1, -1, 0),
        "set O");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0),
        "set CN");
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) fail("sign certificate");
}

void write_cert(const std::string& path, X509* cert) {
  BioPtr bio(check(BIO_new_file(path.c_str(), "w"), "open " + path));
  check(PEM_write_bio_X509(bio.get(), cert), "write " + path);
}

void write_key(const std::string& path, EVP_PKEY* key) {
  BioPtr bio(check(BIO_new_file(path.c_str(), "w"), "open " + path));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "write " + path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

std::string subject_alt_names(const std::string& extra) {
  std::string sans = "IP:127.0.0.1,DNS:localhost";
  if (extra.empty() || extra == "127.0.0.1" || extra == "localhost") return sans;
  unsigned char addr[16];
  const bool is_ip = ::inet_pton(AF_INET, extra.c_str(), addr) == 1 || ::inet_pton(AF_INET6, extra.c_str(), addr) == 1;
  return sans + (is_ip ? ",IP:" : ",DNS:") + extra;
}

TestCa make_ca_set(const std::string& dir, const std::string& prefix, const std::string& ca_name,
                   const std::string& hostname_san) {
  std::filesystem::create_directories(dir);
  TestCa out{dir, dir + "/" + prefix + "ca.pem", dir + "/" + prefix + "server.pem",
             dir + "/" + prefix + "server-key.pem"};

  KeyPtr ca_key = make_key();
  CertPtr ca = make_cert(ca_key.get(), ca_name);
  check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())), "set CA issuer");
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  sign(ca.get(), ca_key.get());

  KeyPtr server_key = make_key();
  CertPtr server = make_cert(server_key.get(), hostname_san.empty() ? "localhost" : hostname_san);
  check(X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get())), "set server issuer");
  add_ext(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(server.get(), ca.get(), NID_subject_key_identifier, "hash");
  add_ext(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  add_ext(server.get(), ca.get(), NID_subject_alt_name, subject_alt_names(hostname_san));
  sign(server.get(), ca_key.get());

  write_cert(out.ca_cert, ca.get());
  write_cert(out.server_cert, server.get());
  write_key(out.server_key, server_key.get());
  return out;
}

}  // namespace

TestCa make_test_ca(const std::string& dir, const std::string& server_hostname_san) {
  return make_ca_set(dir, "", "Tollgate Test CA", server_hostname_san);
}

TestCa make_self_signed_untrusted(const std::string& dir) {
  return make_ca_set(dir, "untrusted-", "Untrusted Test CA", "127.0.0.1");
}

}  // namespace tollgate::testing

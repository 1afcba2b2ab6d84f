#pragma once
// A throwaway certificate authority for TLS tests, made with OpenSSL's C API (no shell, no network).
//
// make_test_ca writes, into `dir` (created if missing):
//   ca.pem          the CA certificate (trust this in clients)
//   server.pem      a server certificate signed by the CA, SANs IP:127.0.0.1 and DNS:localhost
//                   (plus `server_hostname_san` as IP or DNS when it is something else)
//   server-key.pem  the server's private key (EC P-256, PEM, unencrypted)
// make_self_signed_untrusted writes the same set with an `untrusted-` prefix, from a different CA: a
// client trusting only make_test_ca's ca.pem must reject it.
//
// Certificates are valid from an hour ago for 30 days. Throws std::runtime_error on failure.
// Thread safety: safe to call concurrently with distinct directories.

#include <string>

namespace tollgate::testing {

struct TestCa {
  std::string dir;          // where the files are
  std::string ca_cert;      // path of the CA certificate (PEM)
  std::string server_cert;  // path of the server certificate (PEM)
  std::string server_key;   // path of the server private key (PEM)
};

TestCa make_test_ca(const std::string& dir, const std::string& server_hostname_san = "127.0.0.1");

TestCa make_self_signed_untrusted(const std::string& dir);

}  // namespace tollgate::testing

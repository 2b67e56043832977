// librelp's own client as a test peer: sends messages over RELP (plain or
// TLS, tls="on" in omrelp terms) and reports what librelp said. Shared by the
// RelpSession interop test and the stream listener's RELP tests.
#ifndef KONSEKI_TESTS_RECEIVER_LIBRELP_CLIENT_H_
#define KONSEKI_TESTS_RECEIVER_LIBRELP_CLIENT_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <librelp.h>
}

namespace konseki::receiver::testing {

// librelp's error callback; usr is the client's std::vector<std::string>.
inline void RecordRelpError(void* usr, char* objinfo, char* errmsg, relpRetVal code) {
  static_cast<std::vector<std::string>*>(usr)->push_back(std::string(objinfo) + ": " + errmsg +
                                                         " (" + std::to_string(code) + ")");
}

// librelp calls its debug hook unconditionally: give it one that is silent.
inline void IgnoreRelpDebug(char*, ...) {}

// librelp client TLS settings.
struct ClientTls {
  std::string lib;  // "gnutls" or "openssl" (relpEngineSetTLSLibByName)
  std::string ca_file;
  std::string cert_file;       // the client's certificate
  std::string key_file;        // and its key
  std::string permitted_peer;  // server name for authmode "name"
};

// Sends `messages` to 127.0.0.1:port with librelp's client (window: its
// window size), then closes the session, which waits for every answer.
// Returns the errors librelp reported and the calls that failed; empty =
// every message acknowledged.
inline std::vector<std::string> SendWithLibrelp(uint16_t port,
                                                const std::vector<std::string>& messages,
                                                int window, const ClientTls* tls = nullptr) {
  std::vector<std::string> errors;
  relpEngine_t* engine = nullptr;
  relpClt_t* client = nullptr;
  auto check = [&](relpRetVal r, const char* what) {
    if (r != RELP_RET_OK) errors.push_back(std::string(what) + " returned " + std::to_string(r));
    return r == RELP_RET_OK;
  };
  // librelp takes strings it does not modify as non-const pointers.
  auto chars = [](const std::string& s) { return const_cast<char*>(s.c_str()); };
  auto text = [&](const std::string& s) { return reinterpret_cast<unsigned char*>(chars(s)); };
  if (!check(relpEngineConstruct(&engine), "relpEngineConstruct")) return errors;
  check(relpEngineSetDbgprint(engine, IgnoreRelpDebug), "relpEngineSetDbgprint");
  check(relpEngineSetOnErr(engine, RecordRelpError), "relpEngineSetOnErr");
  // After the debug callback: librelp logs through it unconditionally here.
  if (tls != nullptr) {
    check(relpEngineSetTLSLibByName(engine, tls->lib.c_str()), "relpEngineSetTLSLibByName");
  }
  check(relpEngineSetEnableCmd(engine, text("syslog"), eRelpCmdState_Required),
        "relpEngineSetEnableCmd");
  if (check(relpEngineCltConstruct(engine, &client), "relpEngineCltConstruct")) {
    check(relpCltSetUsrPtr(client, &errors), "relpCltSetUsrPtr");
    check(relpCltSetTimeout(client, 10), "relpCltSetTimeout");
    check(relpCltSetWindowSize(client, window), "relpCltSetWindowSize");
    if (tls != nullptr) {
      check(relpCltEnableTLS(client), "relpCltEnableTLS");
      check(relpCltSetCACert(client, chars(tls->ca_file)), "relpCltSetCACert");
      check(relpCltSetOwnCert(client, chars(tls->cert_file)), "relpCltSetOwnCert");
      check(relpCltSetPrivKey(client, chars(tls->key_file)), "relpCltSetPrivKey");
      check(relpCltSetAuthMode(client, chars("name")), "relpCltSetAuthMode");
      check(relpCltAddPermittedPeer(client, chars(tls->permitted_peer)), "relpCltAddPermittedPeer");
    }
    const std::string port_text = std::to_string(port);
    if (check(relpCltConnect(client, AF_INET, text(port_text), text("127.0.0.1")),
              "relpCltConnect")) {
      for (const std::string& m : messages) {
        if (!check(relpCltSendSyslog(client, text(m), m.size()), "relpCltSendSyslog")) break;
      }
    }
    check(relpEngineCltDestruct(engine, &client), "relpEngineCltDestruct");
  }
  check(relpEngineDestruct(&engine), "relpEngineDestruct");
  return errors;
}

}  // namespace konseki::receiver::testing

#endif  // KONSEKI_TESTS_RECEIVER_LIBRELP_CLIENT_H_

#include "matchers/audit_hex.h"

#include <array>
#include <cstring>

#include "common/utf8.h"

namespace konseki::matchers {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '[' || c == ']';
}

bool IsValueEnd(char c) { return c == ' ' || c == '\t' || c == '\'' || c == '\x1d'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class KeyKind { kNone, kPlain, kAlways, kExecveArg };

// aN or aN[i]: EXECVE's arguments (kernel/auditsc.c audit_log_execve_info).
bool IsExecveArg(std::string_view key) {
  if (key.size() < 2 || key[0] != 'a') return false;
  size_t i = 1;
  while (i < key.size() && key[i] >= '0' && key[i] <= '9') ++i;
  if (i == 1) return false;
  if (i == key.size()) return true;
  if (key[i] != '[' || key.back() != ']' || i + 2 >= key.size()) return false;
  for (size_t j = i + 1; j + 1 < key.size(); ++j) {
    if (key[j] < '0' || key[j] > '9') return false;
  }
  return true;
}

KeyKind Kind(std::string_view key) {
  static constexpr std::array<std::string_view, 12> kPlain = {
      "acct", "cmd",  "comm",  "cwd",  "dir",       "exe",
      "key",  "name", "ocomm", "path", "proctitle", "profile"};
  for (std::string_view k : kPlain) {
    if (key == k) return KeyKind::kPlain;
  }
  if (key == "data") return KeyKind::kAlways;  // tty_audit.c: audit_log_n_hex, always
  return IsExecveArg(key) ? KeyKind::kExecveArg : KeyKind::kNone;
}

// The value's decoded bytes hold one audit_value_needs_encoding() flags.
bool NeedsEncoding(std::string_view hex) {
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int b = HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1]);
    if (b == '"' || b < 0x21 || b >= 0x7F) return true;
  }
  return false;
}

// Appends hex's bytes to *out as DecodeAuditHex describes.
void AppendDecoded(std::string_view hex, std::string* out) {
  char bytes[4];
  const size_t start = out->size();
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const auto b = static_cast<unsigned char>(HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1]));
    if (b < 0x20 || b == 0x7F) {
      out->push_back(' ');
    } else if (b < 0x80) {
      out->push_back(static_cast<char>(b));
    } else {
      // A UTF-8 sequence is up to 4 bytes: read them ahead.
      size_t n = 0;
      for (size_t j = i; j + 1 < hex.size() && n < sizeof bytes; j += 2) {
        bytes[n++] = static_cast<char>(HexDigit(hex[j]) << 4 | HexDigit(hex[j + 1]));
      }
      const size_t len = Utf8SequenceLength(bytes, n);
      if (len == 0) {
        out->push_back('?');
      } else {
        out->append(bytes, len);
        i += 2 * (len - 1);
      }
    }
  }
  while (out->size() > start && out->back() == ' ') out->pop_back();
}

}  // namespace

bool IsAuditRecord(std::string_view text, std::string_view app_name) {
  if (app_name == kAuditProgram || text.find("msg=audit(") != std::string_view::npos) return true;
  for (size_t at = text.find(" audit("); at != std::string_view::npos;
       at = text.find(" audit(", at + 1)) {
    const size_t next = at + 7;
    if (next < text.size() && text[next] >= '0' && text[next] <= '9') return true;
  }
  return false;
}

bool DecodeAuditHex(std::string_view text, std::string* out) {
  bool changed = false;
  bool execve_known = false;  // whether `execve` has been looked up
  bool execve = false;
  size_t copied = 0;  // text[0..copied) is in *out
  size_t pos = 0;
  while (pos < text.size()) {
    const void* found = std::memchr(text.data() + pos, '=', text.size() - pos);
    if (found == nullptr) break;
    const size_t eq = static_cast<size_t>(static_cast<const char*>(found) - text.data());
    pos = eq + 1;
    size_t key_start = eq;
    while (key_start > 0 && IsKeyChar(text[key_start - 1])) --key_start;
    if (key_start == eq) continue;
    if (key_start > 0) {
      const char before = text[key_start - 1];
      if (before != ' ' && before != '\t' && before != '\'' && before != '"') continue;
    }
    size_t end = pos;
    while (end < text.size() && HexDigit(text[end]) >= 0) ++end;
    const size_t length = end - pos;
    if (length < 4 || length % 2 != 0 || (end < text.size() && !IsValueEnd(text[end]))) continue;
    const std::string_view key = text.substr(key_start, eq - key_start);
    const std::string_view hex = text.substr(pos, length);
    const KeyKind kind = Kind(key);
    if (kind == KeyKind::kNone) continue;
    if (kind == KeyKind::kExecveArg) {
      if (!execve_known) {
        execve = text.find("argc=") != std::string_view::npos;
        execve_known = true;
      }
      if (!execve) continue;
    }
    if (kind != KeyKind::kAlways && !NeedsEncoding(hex)) continue;
    if (!changed) {
      out->clear();
      changed = true;
    }
    out->append(text.substr(copied, pos - copied));
    out->push_back('"');
    AppendDecoded(hex, out);
    out->push_back('"');
    copied = end;
    pos = end;
  }
  if (changed) out->append(text.substr(copied));
  return changed;
}

}  // namespace konseki::matchers

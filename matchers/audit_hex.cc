#include "matchers/audit_hex.h"

#include <array>
#include <cstring>
#include <initializer_list>

#include "common/utf8.h"

namespace konseki::matchers {
namespace {

// Byte classes, one table look-up each: the decoder's first test of every
// `=` is the value's first byte.
constexpr unsigned char kKey = 1;   // [A-Za-z0-9_\-\[\]]: a key's byte
constexpr unsigned char kHex = 2;   // [0-9A-F]: an encoded value's byte
constexpr unsigned char kEnd = 4;   // blank, tab, ', 0x1D: ends a value
constexpr unsigned char kLead = 8;  // blank, tab, ', ": may stand before a key

constexpr std::array<unsigned char, 256> MakeClasses() {
  std::array<unsigned char, 256> c{};
  for (int b = 'a'; b <= 'z'; ++b) c[b] |= kKey;
  for (int b = 'A'; b <= 'Z'; ++b) c[b] |= kKey;
  for (int b = '0'; b <= '9'; ++b) c[b] |= kKey | kHex;
  for (int b = 'A'; b <= 'F'; ++b) c[b] |= kHex;
  for (unsigned char b : {'_', '-', '[', ']'}) c[b] |= kKey;
  for (unsigned char b : {' ', '\t', '\''}) c[b] |= kEnd | kLead;
  c[0x1d] |= kEnd;
  c['"'] |= kLead;
  return c;
}
constexpr std::array<unsigned char, 256> kClass = MakeClasses();

bool Is(char c, unsigned char cls) { return (kClass[static_cast<unsigned char>(c)] & cls) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The keys whose value the kernel or libaudit may hex-encode (EXECVE's
// arguments aside).
enum class KeyKind { kNone, kPlain, kAlways };

KeyKind Kind(std::string_view key) {
  auto any = [key](std::initializer_list<std::string_view> keys) {
    for (std::string_view k : keys) {
      if (key == k) return true;
    }
    return false;
  };
  switch (key.size()) {
    case 3:
      return any({"cmd", "cwd", "dir", "exe", "key"}) ? KeyKind::kPlain : KeyKind::kNone;
    case 4:
      if (key == "data") return KeyKind::kAlways;  // tty_audit.c: audit_log_n_hex, always
      return any({"acct", "comm", "name", "path"}) ? KeyKind::kPlain : KeyKind::kNone;
    case 5:
      return key == "ocomm" ? KeyKind::kPlain : KeyKind::kNone;
    case 7:
      return key == "profile" ? KeyKind::kPlain : KeyKind::kNone;
    case 9:
      return key == "proctitle" ? KeyKind::kPlain : KeyKind::kNone;
    default:
      return KeyKind::kNone;
  }
}

// EXECVE's argument keys (kernel/auditsc.c audit_log_execve_info): `aN`,
// a chunk `aN[i]` of a long one, and its length `aN_len`.
struct ArgKey {
  enum Kind { kNone, kValue, kLength } kind = kNone;
  size_t index = 0;  // N
};

ArgKey ParseArgKey(std::string_view key) {
  if (key.size() < 2 || key[0] != 'a' || !IsDigit(key[1])) return {};
  size_t i = 1;
  size_t index = 0;
  while (i < key.size() && IsDigit(key[i]))
    index = index * 10 + static_cast<size_t>(key[i++] - '0');
  if (i == key.size()) return {ArgKey::kValue, index};
  if (key.substr(i) == "_len") return {ArgKey::kLength, index};
  if (key[i] != '[' || key.back() != ']' || i + 2 >= key.size()) return {};
  for (size_t j = i + 1; j + 1 < key.size(); ++j) {
    if (!IsDigit(key[j])) return {};
  }
  return {ArgKey::kValue, index};
}

// The record's type, in its head, is EXECVE: auditd's and its plugin's
// "type=EXECVE msg=audit(", the kernel's printk "type=1309 audit(", the
// journal's "EXECVE argc=..." (journald-audit.c: the type's name first).
bool HasExecveHead(std::string_view text) {
  if (text.substr(0, 7) == "EXECVE ") return true;
  const std::string_view head = text.substr(0, 160);
  for (size_t at = head.find("type="); at != std::string_view::npos;
       at = head.find("type=", at + 5)) {
    const std::string_view type = head.substr(at + 5);
    if (type.substr(0, 7) == "EXECVE " || type.substr(0, 5) == "1309 ") return true;
  }
  return false;
}

// The end of auparse's interpreted (bare) argument value starting at
// `from`: the next ` aM=`, ` aM[` or ` aM_len=`, 0x1D or the end.
size_t BareArgEnd(std::string_view text, size_t from) {
  for (size_t at = from; at < text.size(); ++at) {
    if (text[at] == '\x1d') return at;
    if (text[at] != ' ' || at + 2 >= text.size() || text[at + 1] != 'a' || !IsDigit(text[at + 2])) {
      continue;
    }
    size_t k = at + 2;
    while (k < text.size() && IsDigit(text[k])) ++k;
    if (k < text.size() && (text[k] == '=' || text[k] == '[' || text.substr(k, 5) == "_len=")) {
      return at;
    }
  }
  return text.size();
}

// The value's decoded bytes hold one audit_value_needs_encoding() flags.
bool NeedsEncoding(std::string_view hex) {
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int b = HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1]);
    if (b == '"' || b < 0x21 || b >= 0x7F) return true;
  }
  return false;
}

// Appends hex's bytes to *out as DecodeAuditRecord describes; `trim`:
// trailing blanks dropped.
void AppendDecoded(std::string_view hex, bool trim, std::string* out) {
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
  while (trim && out->size() > start && out->back() == ' ') out->pop_back();
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

bool StartsAsExecveRecord(std::string_view text, std::string_view app_name) {
  if (app_name == kAuditProgram) return text.substr(0, 7) == "EXECVE ";
  if (app_name == kKernelProgram) {
    // kernel/audit.c's printk while no auditd listens: pr_notice("type=%d
    // %s\n") under pr_fmt "audit: ", EXECVE being type 1309; imklog may
    // keep the "[ SECONDS.MICROS] " stamp before it.
    if (text.substr(0, 1) == "[") {
      const size_t close = text.find("] ");
      if (close == std::string_view::npos || close > 20) return false;
      text.remove_prefix(close + 2);
    }
    return text.substr(0, 17) == "audit: type=1309 ";
  }
  if (text.substr(0, 5) == "node=") {
    const size_t blank = text.find(' ', 5);
    if (blank == std::string_view::npos) return false;
    text.remove_prefix(blank + 1);
  }
  return text.substr(0, 12) == "type=EXECVE ";
}

bool DecodeAuditRecord(std::string_view text, AuditBuffers* buffers) {
  std::string& out = buffers->text;
  std::string& cmdline = buffers->cmdline;
  bool changed = false;
  bool execve = HasExecveHead(text);  // or an argc= is met before the arguments
  bool has_args = false;              // cmdline holds this record's arguments
  size_t last_arg = 0;                // N of the last argument appended
  size_t copied = 0;                  // text[0..copied) is in out
  // out takes text[copied..upto).
  auto copy_to = [&](size_t upto) {
    if (!changed) {
      out.clear();
      changed = true;
    }
    out.append(text.substr(copied, upto - copied));
    copied = upto;
  };
  const size_t n = text.size();
  size_t pos = 0;
  while (pos < n) {
    const void* found = std::memchr(text.data() + pos, '=', n - pos);
    if (found == nullptr) break;
    const size_t eq = static_cast<size_t>(static_cast<const char*>(found) - text.data());
    pos = eq + 1;
    // The cheap first test: outside an EXECVE record only a value that
    // starts with an upper-case hex digit can be encoded; most are quoted,
    // lower-case words or short numbers (pid=, ses=, res=success, "...").
    const char first = pos < n ? text[pos] : '\0';
    if (!execve && !Is(first, kHex)) continue;
    size_t end = pos;
    while (end < n && Is(text[end], kHex)) ++end;
    const size_t length = end - pos;
    const bool hex_value = length >= 4 && length % 2 == 0 && (end == n || Is(text[end], kEnd));
    if (!execve && !hex_value) {
      // Not a value to decode; an `argc=` makes this an EXECVE record.
      execve = eq >= 4 && text.substr(eq - 4, 4) == "argc" && (eq == 4 || Is(text[eq - 5], kLead));
      continue;
    }
    size_t key_start = eq;
    while (key_start > 0 && Is(text[key_start - 1], kKey)) --key_start;
    if (key_start == eq || (key_start > 0 && !Is(text[key_start - 1], kLead))) continue;
    const std::string_view key = text.substr(key_start, eq - key_start);
    if (key == "argc") {
      execve = true;
      continue;
    }
    if (const ArgKey arg = ParseArgKey(key); arg.kind != ArgKey::kNone) {
      if (!execve || arg.kind == ArgKey::kLength) continue;
      if (!has_args) {
        cmdline.clear();
        has_args = true;
      } else if (arg.index != last_arg) {
        cmdline.push_back(' ');
      }
      last_arg = arg.index;
      if (first == '"') {
        // The kernel's quoted string (audit_log_n_string): no " inside.
        const size_t close = text.find('"', pos + 1);
        const size_t stop = close == std::string_view::npos ? n : close;
        cmdline.append(text.substr(pos + 1, stop - pos - 1));
        pos = stop;
      } else if (hex_value && NeedsEncoding(text.substr(pos, length))) {
        const std::string_view hex = text.substr(pos, length);
        copy_to(pos);
        out.push_back('"');
        AppendDecoded(hex, true, &out);
        out.push_back('"');
        copied = end;
        AppendDecoded(hex, false, &cmdline);
        pos = end;
      } else {
        const size_t stop = BareArgEnd(text, pos);
        cmdline.append(text.substr(pos, stop - pos));
        pos = stop;
      }
      continue;
    }
    if (!hex_value) continue;
    const KeyKind kind = Kind(key);
    const std::string_view hex = text.substr(pos, length);
    if (kind == KeyKind::kNone || (kind == KeyKind::kPlain && !NeedsEncoding(hex))) continue;
    copy_to(pos);
    out.push_back('"');
    AppendDecoded(hex, true, &out);
    out.push_back('"');
    copied = end;
    pos = end;
  }
  if (!changed && !has_args) return false;
  copy_to(n);
  if (has_args) {
    out.append(" cmdline=\"");
    out.append(cmdline);
    out.push_back('"');
  }
  return true;
}

}  // namespace konseki::matchers

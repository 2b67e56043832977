#include "app/console/console_env.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "app/control_socket.h"
#include "app/status_service.h"
#include "matchers/heartbeat_state.h"

namespace konseki::app::console {
namespace {

// Hosts of every heartbeat.<n>.state file in the state directory.
StatusOr<HostList> HostsFromStateFiles(const ConsoleEnv& env) {
  const std::string dir = StateDir(env.config);
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::NotFound("no heartbeat state in " + dir + ": " + ec.message());
  HostList list;
  list.Begin(env.now);
  const int64_t now_ns = static_cast<int64_t>(env.now * 1e9);
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!matchers::IsStateFileName(name)) continue;
    std::string text;
    if (Status s = matchers::ReadFileToString(entry.path().string(), &text); !s.ok()) return s;
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      std::string_view line(text.data() + start, nl - start);
      start = nl + 1;
      matchers::HostState h;
      if (!line.starts_with("H ") || !matchers::ParseHostStateLine(line, &h)) continue;
      matchers::HostRow row{
          h.name, h.sender, h.first_seen_ns, h.last_seen_ns, h.cadence.CadenceSecs(0.99),
          -1,     h.seen,   false,           h.silent,       h.silent_after_stop,
          0,      h.senders};
      const size_t begin = list.text()->size();
      AppendHostJson(row, now_ns, list.text());
      list.EndHost(begin);
    }
  }
  return list;
}

void SkipSpace(std::string_view t, size_t* i) {
  while (*i < t.size() && (t[*i] == ' ' || t[*i] == '\t' || t[*i] == '\n' || t[*i] == '\r')) ++*i;
}

// Moves *i past the JSON string that starts there; false if unterminated.
bool SkipString(std::string_view t, size_t* i) {
  for (size_t j = *i + 1; j < t.size(); ++j) {
    if (t[j] == '\\') {
      ++j;
    } else if (t[j] == '"') {
      *i = j + 1;
      return true;
    }
  }
  return false;
}

// Moves *i past the JSON value that starts there (objects and arrays by
// their brackets, outside strings); false if it does not end.
bool SkipValue(std::string_view t, size_t* i) {
  if (*i >= t.size()) return false;
  if (t[*i] == '"') return SkipString(t, i);
  if (t[*i] != '{' && t[*i] != '[') {
    const size_t from = *i;
    while (*i < t.size() && std::string_view(",}] \t\r\n").find(t[*i]) == std::string_view::npos)
      ++*i;
    return *i > from;
  }
  int depth = 0;
  for (size_t j = *i; j < t.size(); ++j) {
    const char c = t[j];
    if (c == '"') {
      if (!SkipString(t, &j)) return false;
      --j;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        *i = j + 1;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

StatusOr<JsonValue> ConsoleEnv::Ask(const std::string& request) const {
  auto answer = AskControlSocket(ControlSocketPath(config), request);
  if (!answer.ok()) return answer.status();
  auto json = JsonValue::Parse(*answer);
  if (!json.ok()) return Status::IoError("bad answer from konseki: " + json.status().message());
  if (json->Has("error")) return Status::Internal("konseki: " + json->Str("error"));
  return json;
}

StatusOr<ConsoleEnv> MakeConsoleEnv(const std::string& config_path, std::ostream& out,
                                    std::ostream& err, bool colour) {
  std::string warning;
  auto config = LoadConsoleConfig(config_path, &warning);
  if (!config.ok()) return config.status();
  if (!warning.empty()) {
    // An edit in progress: the daemon runs on the config it loaded, and
    // the console still finds its socket and files.
    err << "konseki: warning: " << warning
        << "\n  (check-config and a restart would refuse this file; the running konseki keeps "
           "the config it loaded. Read here: archive.dir, alerts.file, heartbeat.state_dir)\n";
  }
  ConsoleEnv env{std::move(config).value(), &out, &err, Palette(colour), 0};
  env.now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return env;
}

StatusOr<HostList> HostList::FromText(std::string text) {
  HostList list;
  list.text_ = std::move(text);
  const std::string_view t = list.text_;
  const Status bad = Status::IoError("bad answer from konseki: not a host list");
  size_t i = 0;
  SkipSpace(t, &i);
  if (i >= t.size() || t[i] != '{') return bad;
  ++i;
  bool hosts_seen = false;
  while (true) {
    SkipSpace(t, &i);
    if (i < t.size() && t[i] == '}') break;
    const size_t key_begin = i;
    if (i >= t.size() || t[i] != '"' || !SkipString(t, &i)) return bad;
    const std::string_view key = t.substr(key_begin + 1, i - key_begin - 2);
    SkipSpace(t, &i);
    if (i >= t.size() || t[i] != ':') return bad;
    ++i;
    SkipSpace(t, &i);
    const size_t value_begin = i;
    if (key == "hosts" && i < t.size() && t[i] == '[') {
      hosts_seen = true;
      ++i;
      SkipSpace(t, &i);
      if (i < t.size() && t[i] == ']') {
        ++i;
      } else {
        while (true) {
          SkipSpace(t, &i);
          const size_t begin = i;
          if (!SkipValue(t, &i)) return bad;
          list.spans_.emplace_back(begin, i - begin);
          SkipSpace(t, &i);
          if (i < t.size() && t[i] == ',') {
            ++i;
            continue;
          }
          if (i < t.size() && t[i] == ']') {
            ++i;
            break;
          }
          return bad;
        }
      }
    } else {
      if (!SkipValue(t, &i)) return bad;
      const std::string_view value = t.substr(value_begin, i - value_begin);
      if (key == "error") {
        auto message = JsonValue::Parse(value);
        return Status::Internal("konseki: " +
                                (message.ok() ? message->AsString() : std::string(value)));
      }
      if (key == "time") list.time_ = std::strtod(std::string(value).c_str(), nullptr);
    }
    SkipSpace(t, &i);
    if (i < t.size() && t[i] == ',') {
      ++i;
    } else if (i < t.size() && t[i] == '}') {
      break;
    } else {
      return bad;
    }
  }
  if (!hosts_seen) return bad;
  return list;
}

void HostList::Begin(double time) {
  time_ = time;
  text_.clear();
  spans_.clear();
}

JsonValue HostList::Host(size_t i) const {
  auto parsed = JsonValue::Parse(Text(i));
  return parsed.ok() ? std::move(parsed).value() : JsonValue();
}

StatusOr<HostList> LoadHosts(const ConsoleEnv& env, bool* from_files) {
  *from_files = false;
  auto answer = AskControlSocket(ControlSocketPath(env.config), "hosts");
  if (answer.ok()) return HostList::FromText(std::move(answer).value());
  if (answer.status().code() != StatusCode::kUnavailable) return answer.status();
  *from_files = true;
  return HostsFromStateFiles(env);
}

}  // namespace konseki::app::console

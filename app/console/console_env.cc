#include "app/console/console_env.h"

#include <chrono>
#include <filesystem>

#include "app/control_socket.h"
#include "app/status_service.h"
#include "matchers/heartbeat_state.h"

namespace konseki::app::console {
namespace {

double Secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// Hosts of every heartbeat.<n>.state file in the state directory.
StatusOr<JsonValue> HostsFromStateFiles(const ConsoleEnv& env) {
  const std::string dir = StateDir(env.config);
  std::error_code ec;
  JsonValue list = JsonValue::Array();
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::NotFound("no heartbeat state in " + dir + ": " + ec.message());
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
      JsonValue o = JsonValue::Object();
      o.Set("name", row.name).Set("sender", row.sender);
      JsonValue senders = JsonValue::Array();
      for (const std::string& a : row.senders) senders.Append(std::string_view(a));
      o.Set("senders", senders);
      o.Set("first_seen", Secs(row.first_seen_ns)).Set("last_seen", Secs(row.last_seen_ns));
      o.Set("cadence_secs", row.cadence_secs).Set("threshold_secs", -1.0);
      o.Set("state", HostStateName(row, static_cast<int64_t>(env.now * 1e9)));
      o.Set("expected", false);
      list.Append(o);
    }
  }
  JsonValue out = JsonValue::Object();
  out.Set("time", env.now).Set("hosts", list);
  return out;
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
  auto config = LoadConfigFile(config_path);
  if (!config.ok()) return config.status();
  ConsoleEnv env{std::move(config).value(), &out, &err, Palette(colour), 0};
  env.now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return env;
}

StatusOr<JsonValue> LoadHosts(const ConsoleEnv& env, bool* from_files) {
  auto live = env.Ask("hosts");
  *from_files = false;
  if (live.ok() || live.status().code() != StatusCode::kUnavailable) return live;
  *from_files = true;
  return HostsFromStateFiles(env);
}

}  // namespace konseki::app::console

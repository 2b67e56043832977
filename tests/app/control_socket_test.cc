#include "app/control_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace konseki::app {
namespace {

class ControlSocketTest : public ::testing::Test {
 protected:
  ControlSocketTest() {
    char tmpl[] = "/tmp/konseki-cs-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/state/konseki.sock";
  }
  ~ControlSocketTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ControlSocket> BindEcho() {
    ControlSocketOptions o;
    o.path = path_;
    auto cs = ControlSocket::Bind(
        o, [](std::string_view req) { return "{\"echo\":\"" + std::string(req) + "\"}"; });
    EXPECT_TRUE(cs.ok()) << cs.status().ToString();
    return cs.ok() ? std::move(cs).value() : nullptr;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(ControlSocketTest, AnswersOneLinePerConnectionWithMode0660) {
  auto cs = BindEcho();
  ASSERT_NE(cs, nullptr);
  cs->Start();
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto a = AskControlSocket(path_, "status");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "{\"echo\":\"status\"}");
  auto b = AskControlSocket(path_, "hosts");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "{\"echo\":\"hosts\"}");
  cs->Stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ControlSocketTest, NobodyListeningIsUnavailableAndSaysSo) {
  auto a = AskControlSocket(path_, "status");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(a.status().message().find("not running"), std::string::npos);
}

TEST_F(ControlSocketTest, StaleSocketOfAKilledDaemonIsReplaced) {
  std::filesystem::create_directories(dir_ + "/state");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(fd);  // the file stays, nobody listens: what a SIGKILL leaves
  auto cs = BindEcho();
  ASSERT_NE(cs, nullptr);
  cs->Start();
  EXPECT_TRUE(AskControlSocket(path_, "x").ok());
}

TEST_F(ControlSocketTest, ASocketInUseOrAFileIsNotReplaced) {
  auto first = BindEcho();
  ASSERT_NE(first, nullptr);
  first->Start();
  ControlSocketOptions o;
  o.path = path_;
  auto second = ControlSocket::Bind(o, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
  first->Stop();

  std::ofstream(path_) << "not a socket";
  auto third = ControlSocket::Bind(o, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("not a socket"), std::string::npos);
}

TEST_F(ControlSocketTest, TooLongPathIsAPreciseError) {
  ControlSocketOptions o;
  o.path = dir_ + "/" + std::string(200, 'a');
  auto cs = ControlSocket::Bind(o, [](std::string_view) { return std::string(); });
  ASSERT_FALSE(cs.ok());
  EXPECT_NE(cs.status().message().find("longer than 107 bytes"), std::string::npos);
}

TEST_F(ControlSocketTest, AClientThatSendsNoLineIsDroppedAndOthersAreServed) {
  auto cs = BindEcho();
  ASSERT_NE(cs, nullptr);
  cs->Start();
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(send(fd, "sta", 3, 0), 3);  // and nothing more
  // The server gives up on it after io_timeout_ms and then answers this one.
  auto a = AskControlSocket(path_, "hosts", 10000);
  close(fd);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "{\"echo\":\"hosts\"}");
}

// Clients are served at once: connections held open without a request (a
// hung console command, or a group member holding the console hostage) and
// one that never reads its large answer delay nobody; before, the server
// served them one after the other, io_timeout_ms (2 s) each, and `konseki
// status` timed out ("Resource temporarily unavailable") behind them.
TEST_F(ControlSocketTest, StuckClientsDelayNoOther) {
  ControlSocketOptions o;
  o.path = path_;
  auto cs = ControlSocket::Bind(o, [](std::string_view req) {
    return req == "big" ? std::string(8 << 20, 'x') : "{\"echo\":\"" + std::string(req) + "\"}";
  });
  ASSERT_TRUE(cs.ok()) << cs.status().ToString();
  (*cs)->Start();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path_.c_str());
  std::vector<int> held;
  auto hold = [&](const char* request) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (request != nullptr) {
      ASSERT_GT(send(fd, request, std::strlen(request), 0), 0);
    }
    held.push_back(fd);
  };
  hold("big\n");                                               // asks for 8 MiB and never reads it
  for (int i = 0; i < 10; ++i) hold(i % 2 ? "sta" : nullptr);  // no whole line
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto a = AskControlSocket(path_, "status", 1500);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(*a, "{\"echo\":\"status\"}");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  }
  // One that dribbles its line a byte at a time is dropped at its deadline.
  {
    ControlSocketOptions quick;
    quick.path = dir_ + "/quick.sock";
    quick.io_timeout_ms = 300;
    auto q = ControlSocket::Bind(quick, [](std::string_view) { return std::string("{}"); });
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    (*q)->Start();
    sockaddr_un qa{};
    qa.sun_family = AF_UNIX;
    std::strcpy(qa.sun_path, quick.path.c_str());
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&qa), sizeof qa), 0);
    bool dropped = false;
    for (int i = 0; i < 20 && !dropped; ++i) {
      dropped = send(fd, "s", 1, MSG_NOSIGNAL) != 1;
      usleep(100 * 1000);
    }
    EXPECT_TRUE(dropped) << "a client dribbling its request was never dropped";
    close(fd);
  }
  // Past the cap the oldest held connections are dropped for new ones.
  for (int i = 0; i < 20; ++i) hold(nullptr);
  auto a = AskControlSocket(path_, "hosts", 1500);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  for (int fd : held) close(fd);
}

}  // namespace
}  // namespace konseki::app

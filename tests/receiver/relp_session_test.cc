#include "receiver/relp_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/metrics.h"

namespace konseki::receiver {

// Jumps an idle session's TXNR sequence (reaching the wrap honestly takes
// a billion frames).
class RelpSessionTestPeer {
 public:
  static void JumpTo(RelpSession* s, uint32_t txnr) {
    ASSERT_EQ(s->outstanding(), 0u);
    s->expected_txnr_ = txnr;
    s->head_txnr_ = txnr;
  }
};

namespace {

using testing::ElementsAre;

std::string Frame(uint32_t txnr, std::string_view cmd, std::string_view data) {
  std::string s;
  AppendRelpFrame(txnr, cmd, data, &s);
  return s;
}

// What librelp 1.11's client sends as its open offers (relpSessConstructOffers).
const char kLibrelpOffers[] =
    "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";

std::string Open() { return Frame(1, "open", kLibrelpOffers); }
std::string Rsp(uint32_t txnr, std::string_view text) { return Frame(txnr, "rsp", text); }

struct Received {
  uint32_t txnr;
  std::string data;
  bool truncated;
  friend bool operator==(const Received&, const Received&) = default;
};

// Records messages; acks at once when ack_immediately is set.
class Recorder : public RelpHandler {
 public:
  void OnSyslog(uint32_t txnr, std::string_view data, bool truncated) override {
    got.push_back({txnr, std::string(data), truncated});
    if (ack_immediately) {
      EXPECT_TRUE(session->Ack(txnr));
    }
  }
  std::vector<Received> got;
  RelpSession* session = nullptr;
  bool ack_immediately = false;
};

// Takes all pending output.
std::string TakeOutput(RelpSession* s) {
  std::string out(s->PendingOutput());
  s->ConsumeOutput(out.size());
  return out;
}

class RelpSessionTest : public testing::Test {
 protected:
  RelpSessionTest() { Reset(RelpSessionOptions{}); }
  void Reset(const RelpSessionOptions& options) {
    counters_ = RelpCounters::Register(&registry_);
    session_ = std::make_unique<RelpSession>(options, &rec_, &counters_);
    rec_ = Recorder();
    rec_.session = session_.get();
  }
  double Errors(std::string_view reason) {
    return registry_.ValueOf("konseki_relp_errors_total", {{"reason", std::string(reason)}});
  }

  MetricsRegistry registry_;
  RelpCounters counters_;
  Recorder rec_;
  std::unique_ptr<RelpSession> session_;
};

TEST_F(RelpSessionTest, OpenIsAnsweredWithOurOffers) {
  const std::string open = Open();
  EXPECT_EQ(session_->Feed(open), open.size());
  EXPECT_EQ(session_->state(), RelpSession::State::kOpen);
  EXPECT_EQ(TakeOutput(session_.get()),
            Rsp(1, "200 OK\nrelp_version=0\nrelp_software=konseki,0.1.0\ncommands=syslog"));
  EXPECT_EQ(session_->expected_txnr(), 2u);
}

TEST_F(RelpSessionTest, SyslogIsAnsweredOnlyAfterAck) {
  session_->Feed(Open());
  TakeOutput(session_.get());
  const std::string bytes = Frame(2, "syslog", "<13>one") + Frame(3, "syslog", "<13>two");
  EXPECT_EQ(session_->Feed(bytes), bytes.size());
  EXPECT_THAT(rec_.got, ElementsAre(Received{2, "<13>one", false}, Received{3, "<13>two", false}));
  EXPECT_EQ(session_->unacked(), 2u);
  EXPECT_EQ(session_->PendingOutput(), "");
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK"));
  EXPECT_TRUE(session_->Ack(3));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(3, "200 OK"));
  EXPECT_EQ(session_->unacked(), 0u);
  EXPECT_EQ(registry_.ValueOf("konseki_relp_acks_total"), 2);
  EXPECT_EQ(registry_.ValueOf("konseki_relp_messages_total"), 2);
}

TEST_F(RelpSessionTest, OutOfOrderAcksAreAnsweredInTransactionOrder) {
  session_->Feed(Open() + Frame(2, "syslog", "a") + Frame(3, "syslog", "b") +
                 Frame(4, "syslog", "c"));
  TakeOutput(session_.get());
  EXPECT_TRUE(session_->Ack(4));
  EXPECT_TRUE(session_->Ack(3));
  EXPECT_EQ(session_->PendingOutput(), "");  // 2 still holds the line
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK") + Rsp(3, "200 OK") + Rsp(4, "200 OK"));
}

TEST_F(RelpSessionTest, AckOfUnknownOrAlreadyAckedTxnrIsRefused) {
  session_->Feed(Open() + Frame(2, "syslog", "a"));
  EXPECT_FALSE(session_->Ack(1));  // open, not a syslog frame
  EXPECT_FALSE(session_->Ack(3));  // not received
  EXPECT_FALSE(session_->Ack(0));
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_FALSE(session_->Ack(2));
}

TEST_F(RelpSessionTest, AckUpToAcksThePrefix) {
  std::string bytes = Open();
  for (uint32_t t = 2; t <= 6; ++t) bytes += Frame(t, "syslog", "m");
  session_->Feed(bytes);
  TakeOutput(session_.get());
  EXPECT_TRUE(session_->Ack(3));
  EXPECT_EQ(session_->AckUpTo(4), 2u);  // 2 and 4; 3 was already acked
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK") + Rsp(3, "200 OK") + Rsp(4, "200 OK"));
  EXPECT_EQ(session_->AckUpTo(99), 0u);  // not outstanding
  EXPECT_EQ(session_->unacked(), 2u);
}

TEST_F(RelpSessionTest, EverySplitGivesTheSameMessagesAndAnswers) {
  std::string stream = Open();
  for (uint32_t t = 2; t <= 6; ++t) {
    stream +=
        Frame(t, "syslog",
              "<13>Nov 23 08:00:0" + std::to_string(t) + " h app: msg\n" + std::string(t, 'x'));
  }
  stream += Frame(7, "close", "");

  auto run = [&](const std::vector<std::string_view>& pieces) {
    Reset(RelpSessionOptions{});
    rec_.ack_immediately = true;
    std::string out;
    for (std::string_view p : pieces) {
      EXPECT_EQ(session_->Feed(p), p.size());
      out += TakeOutput(session_.get());
    }
    EXPECT_EQ(session_->state(), RelpSession::State::kClosed);
    return std::make_pair(rec_.got, out);
  };
  const auto expected = run({stream});
  ASSERT_EQ(expected.first.size(), 5u);
  EXPECT_THAT(expected.second, testing::EndsWith(Rsp(6, "200 OK") + Rsp(7, "200 OK")));
  std::string_view s = stream;
  for (size_t i = 0; i <= s.size(); ++i) {
    ASSERT_EQ(run({s.substr(0, i), s.substr(i)}), expected) << "split at " << i;
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  EXPECT_EQ(run(bytes), expected);
}

TEST_F(RelpSessionTest, CloseIsAnsweredAfterEarlierAcksAndEndsTheSession) {
  session_->Feed(Open());
  TakeOutput(session_.get());
  const std::string bytes = Frame(2, "syslog", "a") + Frame(3, "close", "");
  const std::string after = Frame(4, "syslog", "late");
  EXPECT_EQ(session_->Feed(bytes + after), bytes.size());  // nothing after close
  EXPECT_EQ(session_->state(), RelpSession::State::kClosing);
  EXPECT_EQ(session_->PendingOutput(), "");
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK") + Rsp(3, "200 OK"));
  EXPECT_EQ(session_->state(), RelpSession::State::kClosed);
  EXPECT_TRUE(session_->Done());
  EXPECT_EQ(rec_.got.size(), 1u);
  EXPECT_EQ(registry_.ValueOf("konseki_relp_client_closes_total"), 1);
}

TEST_F(RelpSessionTest, UnknownCommandGets500AndTheSessionGoesOn) {
  rec_.ack_immediately = true;
  session_->Feed(Open());
  TakeOutput(session_.get());
  session_->Feed(Frame(2, "starttls", "") + Frame(3, "syslog", "a"));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "500 command not supported") + Rsp(3, "200 OK"));
  EXPECT_EQ(session_->state(), RelpSession::State::kOpen);
  EXPECT_EQ(registry_.ValueOf("konseki_relp_unknown_commands_total"), 1);
}

TEST_F(RelpSessionTest, SecondOpenIsAcknowledgedAndIgnored) {
  session_->Feed(Open());
  TakeOutput(session_.get());
  std::string again = Open();
  again[0] = '2';
  session_->Feed(again);
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 connection already open - ignored"));
  EXPECT_EQ(session_->state(), RelpSession::State::kOpen);
}

TEST_F(RelpSessionTest, TxnrOutOfSequenceIsAnError) {
  session_->Feed(Open() + Frame(2, "syslog", "a"));
  session_->Feed(Frame(4, "syslog", "b"));
  EXPECT_EQ(session_->state(), RelpSession::State::kError);
  EXPECT_EQ(session_->error(), RelpError::kTxnrOutOfSequence);
  EXPECT_EQ(rec_.got.size(), 1u);
  EXPECT_EQ(Errors("txnr_out_of_sequence"), 1);
  EXPECT_FALSE(session_->WantsInput());
  EXPECT_EQ(session_->Feed(Frame(3, "syslog", "c")), 0u);
  // Messages received before the error can still be acked (and answered).
  TakeOutput(session_.get());
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK"));
}

TEST_F(RelpSessionTest, RepeatedTxnrIsAnError) {
  session_->Feed(Open() + Frame(2, "syslog", "a") + Frame(2, "syslog", "a"));
  EXPECT_EQ(session_->error(), RelpError::kTxnrOutOfSequence);
}

TEST_F(RelpSessionTest, FirstFrameMustBeOpenWithTxnrOne) {
  session_->Feed(Frame(1, "syslog", "a"));
  EXPECT_EQ(session_->error(), RelpError::kNotOpen);
  EXPECT_TRUE(rec_.got.empty());
  Reset(RelpSessionOptions{});
  session_->Feed(Frame(2, "open", kLibrelpOffers));
  EXPECT_EQ(session_->error(), RelpError::kTxnrOutOfSequence);
  Reset(RelpSessionOptions{});
  session_->Feed(Frame(0, "open", kLibrelpOffers));
  EXPECT_EQ(session_->error(), RelpError::kTxnrOutOfSequence);
}

TEST_F(RelpSessionTest, ClientRspOrServerCloseIsAnError) {
  session_->Feed(Open() + Rsp(2, "200 OK"));
  EXPECT_EQ(session_->error(), RelpError::kUnexpectedCommand);
  Reset(RelpSessionOptions{});
  session_->Feed(Open() + Frame(2, "serverclose", ""));
  EXPECT_EQ(session_->error(), RelpError::kUnexpectedCommand);
  EXPECT_EQ(Errors("unexpected_command"), 2);
}

TEST_F(RelpSessionTest, OpenWithoutSyslogCommandIsRefused) {
  session_->Feed(Frame(1, "open", "relp_version=0\ncommands=foo,bar"));
  EXPECT_EQ(session_->error(), RelpError::kOpenRefused);
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(1, "500 required command not supported by client"));
  Reset(RelpSessionOptions{});
  session_->Feed(Frame(1, "open", "relp_version=x\ncommands=syslog"));
  EXPECT_EQ(session_->error(), RelpError::kOpenRefused);
  Reset(RelpSessionOptions{});
  session_->Feed(Frame(1, "open", "commands=foo,syslog"));  // version offer is optional
  EXPECT_EQ(session_->state(), RelpSession::State::kOpen);
}

TEST_F(RelpSessionTest, MalformedHeaderEndsTheSessionWithItsReason) {
  session_->Feed(Open() + "2 syslog abc\n");
  EXPECT_EQ(session_->error(), RelpError::kBadDatalen);
  EXPECT_EQ(Errors("bad_datalen"), 1);
  Reset(RelpSessionOptions{});
  session_->Feed("GET / HTTP/1.1\r\n");
  EXPECT_EQ(session_->error(), RelpError::kBadTxnr);
  Reset(RelpSessionOptions{});
  session_->Feed(Open() + "2 syslog 3 abcd");
  EXPECT_EQ(session_->error(), RelpError::kBadTrailer);
}

TEST_F(RelpSessionTest, OversizeMessageIsTruncatedAndAcked) {
  Reset(RelpSessionOptions{.max_data_bytes = 8});
  rec_.ack_immediately = true;
  session_->Feed(Open() + Frame(2, "syslog", std::string(50, 'z')) + Frame(3, "syslog", "ok"));
  EXPECT_THAT(rec_.got,
              ElementsAre(Received{2, std::string(8, 'z'), true}, Received{3, "ok", false}));
  EXPECT_THAT(TakeOutput(session_.get()), testing::EndsWith(Rsp(2, "200 OK") + Rsp(3, "200 OK")));
  EXPECT_EQ(registry_.ValueOf("konseki_relp_truncated_messages_total"), 1);
}

TEST_F(RelpSessionTest, OversizeMessageIsAnErrorWhenTruncationIsOff) {
  Reset(RelpSessionOptions{.max_data_bytes = 8, .truncate_oversize = false});
  session_->Feed(Open() + Frame(2, "syslog", std::string(9, 'z')));
  EXPECT_EQ(session_->error(), RelpError::kDataTooLong);
  EXPECT_TRUE(rec_.got.empty());
}

TEST_F(RelpSessionTest, FullWindowStopsConsumingUntilAcked) {
  Reset(RelpSessionOptions{.max_unacked = 2});
  const std::string open = Open();
  const std::string f2 = Frame(2, "syslog", "a"), f3 = Frame(3, "syslog", "b"),
                    f4 = Frame(4, "syslog", "c");
  const std::string all = open + f2 + f3 + f4;
  size_t used = session_->Feed(all);
  EXPECT_EQ(used, open.size() + f2.size() + f3.size());
  EXPECT_FALSE(session_->WantsInput());
  EXPECT_EQ(session_->outstanding(), 2u);
  EXPECT_EQ(session_->Feed(std::string_view(all).substr(used)), 0u);
  EXPECT_TRUE(session_->Ack(3));  // out of order: 2 still holds its slot
  EXPECT_FALSE(session_->WantsInput());
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_TRUE(session_->WantsInput());
  EXPECT_EQ(session_->Feed(std::string_view(all).substr(used)), f4.size());
  EXPECT_EQ(rec_.got.size(), 3u);
}

TEST_F(RelpSessionTest, UnreadOutputStopsConsuming) {
  Reset(RelpSessionOptions{.max_output_bytes = 40});
  rec_.ack_immediately = true;
  std::string bytes = Open();
  for (uint32_t t = 2; t < 20; ++t) bytes += Frame(t, "syslog", "m");
  size_t used = session_->Feed(bytes);
  EXPECT_LT(used, bytes.size());
  EXPECT_FALSE(session_->WantsInput());
  while (used < bytes.size()) {
    size_t before = used;
    TakeOutput(session_.get());
    used += session_->Feed(std::string_view(bytes).substr(used));
    ASSERT_GT(used, before);
  }
  EXPECT_EQ(rec_.got.size(), 18u);
}

TEST_F(RelpSessionTest, ServerCloseWritesTheHintAndNothingAfterIt) {
  session_->Feed(Open() + Frame(2, "syslog", "a") + Frame(3, "syslog", "b"));
  TakeOutput(session_.get());
  EXPECT_TRUE(session_->Ack(2));
  session_->ServerClose();
  EXPECT_TRUE(session_->Done());
  EXPECT_EQ(session_->Feed(Frame(4, "syslog", "c")), 0u);
  session_->Ack(3);
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(2, "200 OK") + "0 serverclose 0\n");
}

TEST_F(RelpSessionTest, LongSessionReusesItsBuffers) {
  // Many frames through a small window: the ring wraps many times.
  Reset(RelpSessionOptions{.max_unacked = 3});
  session_->Feed(Open());
  TakeOutput(session_.get());
  uint32_t txnr = 2;
  for (int round = 0; round < 1000; ++round) {
    std::string bytes = Frame(txnr, "syslog", "x") + Frame(txnr + 1, "syslog", "y");
    ASSERT_EQ(session_->Feed(bytes), bytes.size());
    ASSERT_EQ(session_->AckUpTo(txnr + 1), 2u);
    ASSERT_EQ(TakeOutput(session_.get()), Rsp(txnr, "200 OK") + Rsp(txnr + 1, "200 OK"));
    txnr += 2;
  }
  EXPECT_EQ(rec_.got.size(), 2000u);
}

TEST_F(RelpSessionTest, TxnrWrapsFromMaxToOne) {
  session_->Feed(Open());
  TakeOutput(session_.get());
  RelpSessionTestPeer::JumpTo(session_.get(), kRelpMaxTxnr - 1);
  const std::string bytes = Frame(kRelpMaxTxnr - 1, "syslog", "a") +
                            Frame(kRelpMaxTxnr, "syslog", "b") + Frame(1, "syslog", "c") +
                            Frame(2, "syslog", "d");
  ASSERT_EQ(session_->Feed(bytes), bytes.size());
  ASSERT_EQ(session_->state(), RelpSession::State::kOpen);
  EXPECT_EQ(session_->expected_txnr(), 3u);
  EXPECT_FALSE(session_->Ack(3));
  EXPECT_TRUE(session_->Ack(2));
  EXPECT_TRUE(session_->Ack(1));
  EXPECT_EQ(session_->PendingOutput(), "");
  EXPECT_EQ(session_->AckUpTo(kRelpMaxTxnr), 2u);
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(kRelpMaxTxnr - 1, "200 OK") +
                                            Rsp(kRelpMaxTxnr, "200 OK") + Rsp(1, "200 OK") +
                                            Rsp(2, "200 OK"));
}

TEST_F(RelpSessionTest, AckUpToAcrossTheWrap) {
  session_->Feed(Open());
  TakeOutput(session_.get());
  RelpSessionTestPeer::JumpTo(session_.get(), kRelpMaxTxnr);
  session_->Feed(Frame(kRelpMaxTxnr, "syslog", "a") + Frame(1, "syslog", "b") +
                 Frame(2, "syslog", "c"));
  EXPECT_EQ(session_->AckUpTo(1), 2u);
  EXPECT_EQ(TakeOutput(session_.get()), Rsp(kRelpMaxTxnr, "200 OK") + Rsp(1, "200 OK"));
  EXPECT_EQ(session_->unacked(), 1u);
}

TEST_F(RelpSessionTest, TxnrAfterMaxMustBeOne) {
  session_->Feed(Open());
  RelpSessionTestPeer::JumpTo(session_.get(), kRelpMaxTxnr);
  // librelp's own client would send 1000000000 here, which is not a TXNR.
  session_->Feed(Frame(kRelpMaxTxnr, "syslog", "a") + "1000000000 syslog 1 b\n");
  EXPECT_EQ(session_->error(), RelpError::kBadTxnr);
  EXPECT_EQ(rec_.got.size(), 1u);
}

}  // namespace
}  // namespace konseki::receiver

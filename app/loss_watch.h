// Messages konseki itself lost, for the konseki.messages_lost alert: a
// counter nobody scrapes is not a record, and an attacker who floods the UDP
// port until the kernel's buffer overflows (or a sender faster than the
// workers) must leave a trace in the alerts, not only in
// konseki_dropped_messages_total.
//
// Fed once a second with every series of konseki_dropped_messages_total
// (stage and reason); says when to alert: at the first loss, then at most
// once per `quiet` while losses go on, each alert carrying what was lost
// since the last one, by stage and reason. Not thread-safe (the server's
// tick).
#ifndef KONSEKI_APP_LOSS_WATCH_H_
#define KONSEKI_APP_LOSS_WATCH_H_

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"

namespace konseki::app {

class LossWatch {
 public:
  explicit LossWatch(Duration quiet = std::chrono::minutes(5)) : quiet_(quiet) {}

  struct Verdict {
    bool alert = false;
    uint64_t messages = 0;                     // lost since the last alert
    std::map<std::string, uint64_t> by_cause;  // "stage.reason" -> messages
    Duration since{};                          // since the last alert (0: first)
  };
  // totals: each cause's running total ("kernel.udp_receive_buffer" -> n), as
  // read now. A cause whose total went down (a counter that restarted) counts
  // from its new value.
  Verdict Note(const std::map<std::string, uint64_t>& totals, TimePoint now);

 private:
  const Duration quiet_;
  std::map<std::string, uint64_t> last_;     // totals at the last Note
  std::map<std::string, uint64_t> pending_;  // lost since the last alert
  bool alerted_ = false;
  TimePoint last_alert_{};
};

}  // namespace konseki::app

#endif  // KONSEKI_APP_LOSS_WATCH_H_

// parser.timezones: the zone an RFC 3164 sender writes its stamps in, per
// host name (the line's HOST) or per sender network (the peer address),
// for senders that do not write in the log host's parser.timezone: a
// legacy host in US Eastern time forwarding to a Tokyo log host was read
// 14 h off and its lines never met the others in a window (time24 r6).
//
// Built once from the config (zone files read then: the data path does no
// I/O); immutable after Build, so Find is thread-safe from any number of
// threads. Owns its zones; a Parser's options point at it, so it must
// outlive every parser using it.
#ifndef KONSEKI_RECEIVER_ZONE_MAP_H_
#define KONSEKI_RECEIVER_ZONE_MAP_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "receiver/local_zone.h"

namespace konseki::receiver {

// One entry of parser.timezones as written in the config.
struct ZoneRuleSpec {
  std::vector<std::string> hosts;     // "us-legacy", "us-*" (case-insensitive; '*' any run)
  std::vector<std::string> networks;  // "10.8.0.0/16", "2001:db8::/32", "192.0.2.7"
  std::string zone;                   // "America/New_York", "-05:00", "UTC"
};

class ZoneMap {
 public:
  // What a matching sender's zoneless stamps are read in: a named zone
  // (daylight saving by its rules) or, with zone null, a fixed offset.
  struct Zone {
    const LocalZone* zone = nullptr;
    int fixed_offset_secs = 0;
  };

  // A one-entry memo of the last sender address's network match, one per
  // thread (TimestampCache holds one): a run of lines from one peer parses
  // its address once. Not thread-safe.
  struct Memo {
    const ZoneMap* map = nullptr;
    int32_t result = -1;  // index into zones_, -1 none
    uint8_t length = 0;
    std::array<char, 46> sender{};  // INET6_ADDRSTRLEN
  };

  // Errors name the entry (parser.timezones[i]) and what is wrong: an
  // unknown zone, a bad network, an entry with neither hosts nor networks.
  static StatusOr<std::unique_ptr<ZoneMap>> Build(const std::vector<ZoneRuleSpec>& rules);

  bool empty() const { return zones_.empty(); }

  // The zone for a line whose HOST is `hostname` (may be empty) from peer
  // `sender` (address text, may be empty): the first entry naming the host,
  // else the first whose network holds the sender, else null (the global
  // parser.timezone). No allocation; one hash-table probe for exact names.
  const Zone* Find(std::string_view hostname, std::string_view sender, Memo* memo) const;

 private:
  struct Network {
    std::array<uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    int prefix = 0;                   // of the 128 bits
    int32_t zone = 0;
  };
  struct Glob {
    std::string pattern;  // lower case
    int32_t zone = 0;
  };
  struct Slot {
    uint64_t hash = 0;
    std::string name;  // lower case; empty: free
    int32_t zone = -1;
  };
  int32_t FindNetwork(std::string_view sender) const;

  std::vector<std::unique_ptr<LocalZone>> owned_;
  std::vector<Zone> zones_;  // one per entry
  std::vector<Slot> exact_;  // open addressing, power of two, at most half full
  std::vector<Glob> globs_;
  std::vector<Network> networks_;
};

}  // namespace konseki::receiver

#endif  // KONSEKI_RECEIVER_ZONE_MAP_H_

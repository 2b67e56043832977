// Parser::Parse never fails and every field it fills is a view into the
// input (or empty); PRI stays in range.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/message.h"
#include "fuzz/fuzz_check.h"
#include "receiver/parser.h"

namespace {

bool Inside(std::string_view field, std::string_view whole) {
  if (field.empty()) return true;
  return field.data() >= whole.data() && field.data() + field.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const konseki::receiver::Parser parser;
  const konseki::TimePoint received(std::chrono::seconds(1'700'000'000));
  konseki::Message m;
  parser.Parse(bytes, received, &m);
  FUZZ_CHECK(m.raw.size() == bytes.size());
  FUZZ_CHECK(m.pri >= -1 && m.pri <= 191);
  for (std::string_view f :
       {m.raw, m.hostname, m.app_name, m.procid, m.msgid, m.structured_data, m.msg}) {
    FUZZ_CHECK(Inside(f, bytes));
  }
  FUZZ_CHECK(m.received == received);
  return 0;
}

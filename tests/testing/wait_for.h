// Waiting on a condition with a bounded timeout: how tests wait for a
// result (house style: no sleeps standing in for synchronisation).
#ifndef KONSEKI_TESTS_TESTING_WAIT_FOR_H_
#define KONSEKI_TESTS_TESTING_WAIT_FOR_H_

#include <chrono>
#include <functional>

namespace konseki::testing {

// Polls cond every few milliseconds until it is true (returns true) or
// timeout has passed (returns cond() once more).
bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace konseki::testing

#endif  // KONSEKI_TESTS_TESTING_WAIT_FOR_H_

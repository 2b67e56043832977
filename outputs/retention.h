// Keeping the archive for months: closed day files are zstd-compressed after
// archive.compress_after_days and deleted (with their seal files) after
// archive.retention_days; disk usage per host and free space are metrics, and
// free space below archive.low_space raises an alert.
#ifndef KONSEKI_OUTPUTS_RETENTION_H_
#define KONSEKI_OUTPUTS_RETENTION_H_

#include <cstdint>
#include <string_view>

namespace konseki::outputs {

// archive.low_space: "N%" (of the file system's size) or a size in bytes
// with an optional K, M, G or T suffix (powers of 1024, "B"/"iB" allowed:
// "10G", "10GiB", "500M"). Either out pointer may be null; the other of the
// two is set to 0. False if malformed or the percentage is above 100.
bool ParseLowSpace(std::string_view text, double* percent, uint64_t* bytes);

}  // namespace konseki::outputs

#endif  // KONSEKI_OUTPUTS_RETENTION_H_

#include "outputs/archive_reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace konseki::outputs {

StatusOr<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& root,
                                                             std::string_view path) {
  std::string full = root + "/" + std::string(path);
  auto r = OpenFile(full);
  if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
  auto z = OpenFile(full + ".zst");
  if (z.ok() || z.status().code() != StatusCode::kNotFound) return z;
  // Neither the day file nor its compressed form: name both (the day file
  // is what was written; an admin looking for only a .zst is misled).
  return Status::NotFound(full + " (or " + full + ".zst): no such file");
}

StatusOr<std::unique_ptr<ArchiveReader>> ArchiveReader::OpenFile(const std::string& full_path) {
  int fd = open(full_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(full_path + ": no such file");
    return Status::FromErrno("cannot open " + full_path, errno);
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const bool zst = full_path.size() > 4 && full_path.compare(full_path.size() - 4, 4, ".zst") == 0;
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(fd, full_path, zst));
}

ArchiveReader::ArchiveReader(int fd, std::string full_path, bool compressed)
    : fd_(fd), full_path_(std::move(full_path)) {
  if (compressed) {
    zstd_ = ZSTD_createDCtx();
  }
}

ArchiveReader::~ArchiveReader() {
  if (zstd_ != nullptr) ZSTD_freeDCtx(zstd_);
  close(fd_);
}

StatusOr<size_t> ArchiveReader::Read(char* buf, size_t n) {
  if (zstd_ != nullptr) return ReadCompressed(buf, n);
  while (true) {
    ssize_t r = read(fd_, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return Status::FromErrno("read " + full_path_, errno);
  }
}

StatusOr<size_t> ArchiveReader::ReadCompressed(char* buf, size_t n) {
  ZSTD_outBuffer out{buf, n, 0};
  while (out.pos == 0) {
    if (in_pos_ == in_.size() && !in_eof_) {
      in_.resize(1 << 17);
      ssize_t r = read(fd_, in_.data(), in_.size());
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::FromErrno("read " + full_path_, errno);
      in_.resize(static_cast<size_t>(r));
      in_pos_ = 0;
      in_eof_ = r == 0;
    }
    if (in_pos_ == in_.size() && in_eof_) {
      if (!frame_done_) return Status::IoError(full_path_ + ": compressed data ends early");
      return size_t{0};
    }
    ZSTD_inBuffer in{in_.data(), in_.size(), in_pos_};
    const size_t ret = ZSTD_decompressStream(zstd_, &out, &in);
    in_pos_ = in.pos;
    if (ZSTD_isError(ret)) {
      return Status::IoError(full_path_ + ": corrupt zstd data: " + ZSTD_getErrorName(ret));
    }
    frame_done_ = ret == 0;
  }
  return out.pos;
}

StatusOr<uint64_t> ArchiveReader::Skip(uint64_t n) {
  if (zstd_ == nullptr) {
    const off_t cur = lseek(fd_, 0, SEEK_CUR);
    const off_t end = lseek(fd_, 0, SEEK_END);
    const uint64_t can = std::min<uint64_t>(n, static_cast<uint64_t>(end - cur));
    lseek(fd_, cur + static_cast<off_t>(can), SEEK_SET);
    return can;
  }
  std::vector<char> buf(1 << 16);
  uint64_t done = 0;
  while (done < n) {
    auto r = Read(buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), n - done)));
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    done += *r;
  }
  return done;
}

}  // namespace konseki::outputs

// Compiling a Hyperscan block-mode database, in this process or in a
// short-lived child.
//
//   HsExpressions in;  // expressions[i] with flags[i]; Hyperscan id = i
//   hs_database* db = nullptr;
//   HsCompileError refused;
//   Status st = CompileHsDatabase(in, HsCompileIn::kChildProcess, &db, &refused);
//
// Why a child: Hyperscan's compiler is most of libhs's code and needs a
// transient heap several times the size of the database it makes. Run in
// the server, both stay in its resident set for good (the code pages) or
// raise its peak (the heap). In a child, the server maps in only the
// runtime pages that hs_deserialize_database and hs_scan touch; see
// bench/RESULTS.md, "Memory over UDP".
#ifndef KONSEKI_MATCHERS_HS_COMPILE_H_
#define KONSEKI_MATCHERS_HS_COMPILE_H_

#include <string>
#include <vector>

#include "common/status.h"

struct hs_database;

namespace konseki::matchers {

// The inputs of one hs_compile_multi call; expression i gets id i.
struct HsExpressions {
  std::vector<std::string> expressions;
  std::vector<unsigned> flags;  // parallel to expressions (HS_FLAG_*)
};

// Hyperscan's own refusal of the expressions, as hs_compile_error_t says it.
struct HsCompileError {
  int expression = -1;  // index into HsExpressions::expressions; -1: none named
  std::string message;
};

// Where Hyperscan's compiler runs.
enum class HsCompileIn {
  // hs_compile_multi here: tools (check-rules, test-rules), tests, benches.
  kThisProcess,
  // A child forked for this one compile: it compiles, writes the database
  // serialized (hs_serialize_database) into a pipe and exits; this process
  // deserializes it. The child runs nothing but Hyperscan's compiler and
  // write(2) before _exit, so forking from a process with threads is safe
  // (glibc's malloc is reset in the child; the compiler takes no other
  // lock). The server, at start-up and on SIGHUP.
  kChildProcess,
};

// A folder of compiled databases, so that a start or a SIGHUP with the same
// rules reads the database back instead of compiling it again (the bundled
// packs take seconds of CPU to compile; reading them back, milliseconds).
// The server's is $CACHE_DIRECTORY (systemd's CacheDirectory=) or the state
// folder's cache/.
//
// A file, rules-<64-bit hash of the key>.hsdb, holds the whole key (every
// expression and flag, Hyperscan's version, this CPU's platform as
// hs_populate_platform reads it) and a checksum of the database after it:
// the key is compared byte for byte and the checksum verified before the
// database is used, so a hash collision, a file of another version or CPU,
// or a torn or damaged file is a miss, never a wrong database. Files are
// written under a temporary name and renamed (two konseki sharing the
// folder see a whole file or none); a hit refreshes the file's time, and
// only the kKeep most recent files stay. The key and checksum guard
// against accidents, not against a writer: a folder its group or others
// may write is not used (`problem` says so), and a file they may write is
// not read, since a database made to match nothing would blind the
// analyzer without a word.
//
// Not thread-safe: one compile at a time per HsCache object.
struct HsCache {
  static constexpr size_t kKeep = 4;
  std::string dir;      // in: the folder (made 0750 if missing)
  bool hit = false;     // out: the database was read from the folder
  std::string problem;  // out: why the folder could not be read or written
                        // (the compile went on without it); empty when fine
};

// Compiles `in` in block mode. On success *db owns a new database (free it
// with hs_free_database). When Hyperscan refuses an expression, returns
// InvalidArgument and fills *refused (the same in both modes). Any other
// failure (no child could be forked, the child died, a short or corrupt
// reply) returns Internal with what happened; *refused is then untouched.
// With a cache (non-null, dir not empty) the database is looked up there
// first and stored there after a compile; the cache never makes a compile
// fail.
Status CompileHsDatabase(const HsExpressions& in, HsCompileIn where, hs_database** db,
                         HsCompileError* refused, HsCache* cache = nullptr);

// CompileHsDatabase's cache lookup alone (it never compiles): true when
// cache->dir holds the database of `in`, which *db then owns (cache->hit
// set); false otherwise (*db null; cache->problem says why when the folder
// cannot be used). A hit implies Hyperscan took these expressions before.
bool LoadCachedHsDatabase(const HsExpressions& in, HsCache* cache, hs_database** db);

}  // namespace konseki::matchers

#endif  // KONSEKI_MATCHERS_HS_COMPILE_H_

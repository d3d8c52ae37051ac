#ifndef NNET_HT_PROBE_H_
#define NNET_HT_PROBE_H_

// Test instrumentation of the streaming HT kernels (csim only; none of it
// exists unless a flag is defined, so synthesis never sees it).
//
// HT_COUNT_TRIPS: every pipelined loop body calls HT_TRIP("name"); at exit
//   the counts are written to the file named by the environment variable
//   HT_TRIP_FILE (or to stderr), one "name count" per line.
// HT_CHECK_BANKS: every pipelined iteration declares the addresses it reads
//   and writes of each cyclically partitioned array (HT_BANK_READ/WRITE on a
//   probe made with the array's partition factor). At the end of the
//   iteration a bank with more than one write, or more than two accesses (a
//   dual-port RAM), is a conflict: it is counted per probe and written at
//   exit like the trip counts (HT_BANK_FILE), and the program exits with 3.
//   A repeated read of one address in one iteration is one access (the
//   value is broadcast to the lanes).

#if defined(HT_COUNT_TRIPS) || defined(HT_CHECK_BANKS)
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace nnet {

struct ht_counter_file {
    std::map<std::string, unsigned long long> counts;
    const char *env;
    bool fail_on_nonzero;
    ht_counter_file(const char *env_, bool fail) : env(env_), fail_on_nonzero(fail) {}
    ~ht_counter_file() {
        const char *path = std::getenv(env);
        FILE *f = path ? std::fopen(path, "w") : stderr;
        bool any = false;
        for (std::map<std::string, unsigned long long>::const_iterator it = counts.begin(); it != counts.end(); ++it) {
            std::fprintf(f, "%s %llu\n", it->first.c_str(), it->second);
            any = any || it->second;
        }
        if (f != stderr)
            std::fclose(f);
        if (fail_on_nonzero && any)
            std::_Exit(3);
    }
};

#ifdef HT_COUNT_TRIPS
inline ht_counter_file &ht_trips() {
    static ht_counter_file file("HT_TRIP_FILE", false);
    return file;
}
#define HT_TRIP(name) (nnet::ht_trips().counts[name]++)
#endif

#ifdef HT_CHECK_BANKS
inline ht_counter_file &ht_conflicts() {
    static ht_counter_file file("HT_BANK_FILE", true);
    return file;
}

struct ht_bank_probe {
    std::string name;
    unsigned banks;
    std::set<unsigned> reads, writes;
    ht_bank_probe(const char *name_, unsigned banks_) : name(name_), banks(banks_) {
        ht_conflicts().counts[name] += 0; // every probe is listed, conflicts or not
    }
    void read(unsigned addr) { reads.insert(addr); }
    void write(unsigned addr) { writes.insert(addr); }
    void end() {
        std::vector<unsigned> r(banks, 0), w(banks, 0);
        for (std::set<unsigned>::const_iterator it = reads.begin(); it != reads.end(); ++it)
            r[*it % banks]++;
        for (std::set<unsigned>::const_iterator it = writes.begin(); it != writes.end(); ++it)
            w[*it % banks]++;
        for (unsigned b = 0; b < banks; b++) {
            if (w[b] > 1 || r[b] + w[b] > 2) {
                ht_conflicts().counts[name]++;
                break;
            }
        }
        reads.clear();
        writes.clear();
    }
};
#define HT_BANK_PROBE(var, name, banks) static nnet::ht_bank_probe var(name, banks)
#define HT_BANK_READ(var, addr) var.read(addr)
#define HT_BANK_WRITE(var, addr) var.write(addr)
#define HT_BANK_END(var) var.end()
#endif

} // namespace nnet
#endif

#ifndef HT_COUNT_TRIPS
#define HT_TRIP(name) ((void)0)
#endif
#ifndef HT_CHECK_BANKS
#define HT_BANK_PROBE(var, name, banks)
#define HT_BANK_READ(var, addr) ((void)0)
#define HT_BANK_WRITE(var, addr) ((void)0)
#define HT_BANK_END(var) ((void)0)
#endif

#endif

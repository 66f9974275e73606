// The `kbnet` command's subcommands. Each registers itself on the CLI11 app
// and returns the function that runs it after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace kbnet::tools {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the job ran and failed
inline constexpr int kExitUsage = 2;    // bad option, bad spec, missing privilege: nothing was done

struct Command {
    CLI::App* app;             // the subcommand, to know whether it was chosen
    std::function<int()> run;  // runs it; returns the exit code
};

Command add_l2echo(CLI::App& app);
Command add_xdp(CLI::App& app);
Command add_pktgen(CLI::App& app);
Command add_stackdump(CLI::App& app);
Command add_udp_echo(CLI::App& app);
Command add_udp_ping(CLI::App& app);
Command add_mcast_recv(CLI::App& app);

}  // namespace kbnet::tools

// kbnet xdp status|unload IFACE: look at and remove kbnet's XDP program from
// outside the process that attached it (after a kill -9, say).
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "command.hpp"
#include "kbnet/port/xdp.hpp"

namespace kbnet::tools {
namespace {

nlohmann::json to_json(const port::XdpStatus& s) {
    nlohmann::json programs = nlohmann::json::array();
    for (const port::XdpProgramInfo& p : s.kbnet) {
        nlohmann::json filters = nlohmann::json::array();
        for (const port::SteeringFilter& f : p.filters) filters.push_back(port::to_string(f));
        programs.push_back({{"id", p.id},
                            {"attach_mode", p.attach_mode},
                            {"dispatcher", p.dispatcher},
                            {"owner_pid", p.owner_pid},
                            {"owner_alive", p.owner_alive},
                            {"steer_mode", std::string(port::to_string(p.mode))},
                            {"filters", filters},
                            {"socket_queues", p.socket_queues},
                            {"counters",
                             {{"redirected", p.counters.redirected},
                              {"passed", p.counters.passed},
                              {"dropped", p.counters.dropped},
                              {"no_socket", p.counters.no_socket},
                              {"fragments", p.counters.fragments}}}});
    }
    return {{"interface", s.ifname}, {"kbnet_programs", programs}, {"other_programs", s.others}};
}

}  // namespace

Command add_xdp(CLI::App& app) {
    struct Options {
        std::string ifname;
        bool json = false;
        bool unload = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* sub = app.add_subcommand("xdp", "Show or remove kbnet's XDP program on an interface");
    sub->require_subcommand(1);
    CLI::App* status = sub->add_subcommand("status", "Show kbnet's XDP program: owner, mode, filters, counters");
    status->add_option("IFACE", o->ifname, "Interface")->required();
    status->add_flag("--json", o->json, "Print one JSON object");
    CLI::App* unload = sub->add_subcommand("unload", "Detach kbnet's XDP program (other programs stay)");
    unload->add_option("IFACE", o->ifname, "Interface")->required();
    unload->callback([o] { o->unload = true; });
    return {sub, [o] {
                if (o->unload) {
                    const unsigned n = port::xdp_unload(o->ifname);
                    fmt::print("xdp: removed {} kbnet program{} from {}\n", n, n == 1 ? "" : "s", o->ifname);
                    return kExitOk;
                }
                const port::XdpStatus s = port::xdp_status(o->ifname);
                if (o->json) {
                    fmt::print("{}\n", to_json(s).dump());
                } else {
                    fmt::print("{}", port::format_xdp_status(s));
                }
                return kExitOk;
            }};
}

}  // namespace kbnet::tools

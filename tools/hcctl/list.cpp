// SPDX-License-Identifier: MIT
// hcctl list: every HC1 function on the PCI bus, from libpci, joined with
// what the kernel says about it in sysfs (driver, device node).
#include "hcctl.hpp"

#include <hc1/pci_ids.h>

#include <dirent.h>
#include <fstream>
#include <iostream>
#include <sys/stat.h>
#include <sys/sysmacros.h>

extern "C" {
#include <pci/pci.h>
}

namespace hcctl {

namespace {

struct PciCard {
    std::string address;
    uint16_t vendor = 0, device = 0, subsys_vendor = 0, subsys_device = 0;
    int numa_node = -1;
    std::string driver;   // "" = none bound
    std::string link;     // e.g. "2.5 GT/s PCIe x1", or ""
    std::string dev_node; // /dev/hc/N or ""
    std::string model;    // burned model's name, "" without a node
    std::string state;    // the driver's state (live, resetting, ...), "" without a node
};

std::string read_line(const std::string& path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

// "8.0 GT/s PCIe x4" from sysfs (readable without root, unlike the
// PCIe capability beyond the first 64 bytes of config space).
std::string link_of(const std::string& sysdir) {
    std::string speed = read_line(sysdir + "/current_link_speed");
    std::string width = read_line(sysdir + "/current_link_width");
    if (speed.empty() || speed.find("Unknown") != std::string::npos)
        return "";
    return speed + (width.empty() || width == "0" ? "" : " x" + width);
}

// The /dev/hc/N whose device number a char device under the PCI function's
// sysfs directory carries (the class directory's name does not matter).
std::string node_of(const std::string& sysdir) {
    std::map<dev_t, std::string> nodes;
    for (const std::string& p : hc::device_paths()) {
        struct stat st;
        if (::stat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode))
            nodes[st.st_rdev] = p;
    }
    if (nodes.empty())
        return "";
    auto match = [&](const std::string& devfile) -> std::string {
        unsigned maj, min;
        if (std::sscanf(read_line(devfile).c_str(), "%u:%u", &maj, &min) != 2)
            return "";
        auto it = nodes.find(makedev(maj, min));
        return it == nodes.end() ? "" : it->second;
    };
    auto subdirs = [](const std::string& dir) {
        std::vector<std::string> v;
        if (DIR* d = ::opendir(dir.c_str())) {
            while (dirent* e = ::readdir(d))
                if (e->d_type == DT_DIR && e->d_name[0] != '.')
                    v.push_back(dir + "/" + e->d_name);
            ::closedir(d);
        }
        return v;
    };
    for (const std::string& a : subdirs(sysdir)) {
        if (auto n = match(a + "/dev"); !n.empty())
            return n;
        for (const std::string& b : subdirs(a))
            if (auto n = match(b + "/dev"); !n.empty())
                return n;
    }
    return "";
}

std::vector<PciCard> scan() {
    std::vector<PciCard> cards;
    pci_access* pacc = pci_alloc();
    pci_init(pacc);
    pci_scan_bus(pacc);
    for (pci_dev* d = pacc->devices; d; d = d->next) {
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_NUMA_NODE | PCI_FILL_SUBSYS |
                             PCI_FILL_DRIVER);
        if (d->vendor_id != HC1_PCI_VENDOR_ID || d->device_id != HC1_PCI_DEVICE_ID)
            continue;
        PciCard c;
        char addr[32];
        std::snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%d", d->domain, d->bus, d->dev, d->func);
        c.address = addr;
        c.vendor = d->vendor_id;
        c.device = d->device_id;
        c.subsys_vendor = d->subsys_vendor_id;
        c.subsys_device = d->subsys_id;
        c.numa_node = d->numa_node;
        if (const char* drv = pci_get_string_property(d, PCI_FILL_DRIVER))
            c.driver = drv;
        std::string sysdir = "/sys/bus/pci/devices/" + c.address;
        c.link = link_of(sysdir);
        c.dev_node = node_of(sysdir);
        if (!c.dev_node.empty()) {
            std::string cls = "/sys/class/hc1/hc" + c.dev_node.substr(c.dev_node.rfind('/') + 1);
            c.model = read_line(cls + "/model/name");
            c.state = read_line(cls + "/state");
        }
        cards.push_back(std::move(c));
    }
    pci_cleanup(pacc);
    return cards;
}

std::string hex4(uint16_t v) {
    char b[8];
    std::snprintf(b, sizeof(b), "%04x", v);
    return b;
}

} // namespace

int cmd_list(const Args& args) {
    std::vector<PciCard> cards = scan();
    if (args.json) {
        auto or_null = [](const std::string& v) { return v.empty() ? json(nullptr) : json(v); };
        json list = json::array();
        for (const PciCard& c : cards) {
            json card;
            card["address"] = c.address;
            card["vendor"] = hex4(c.vendor);
            card["device"] = hex4(c.device);
            card["subsystem_vendor"] = hex4(c.subsys_vendor);
            card["subsystem_device"] = hex4(c.subsys_device);
            card["link"] = or_null(c.link);
            card["numa_node"] = c.numa_node;
            card["driver"] = or_null(c.driver);
            card["device_node"] = or_null(c.dev_node);
            card["model"] = or_null(c.model);
            card["state"] = or_null(c.state);
            list.push_back(std::move(card));
        }
        json j;
        j["cards"] = std::move(list);
        j["driver_loaded"] = hc::driver_loaded();
        std::cout << dump(j) << "\n";
    } else {
        std::printf("%-13s %-9s %-9s %-18s %-4s %-8s %-10s %-16s %s\n", "ADDRESS", "ID", "SUBSYS",
                    "LINK", "NUMA", "DRIVER", "DEVICE", "MODEL", "STATE");
        for (const PciCard& c : cards) {
            // Without a node the reason takes the place of device, model and state.
            std::string rest = c.dev_node;
            if (rest.empty()) {
                rest = c.driver.empty()    ? "(no driver bound)"
                       : c.driver == "hc1" ? "(no device node)"
                                           : "(bound to another driver)";
            } else {
                char b[128];
                std::snprintf(b, sizeof(b), "%-10s %-16s %s", c.dev_node.c_str(),
                              c.model.empty() ? "-" : c.model.c_str(),
                              c.state.empty() ? "-" : c.state.c_str());
                rest = b;
            }
            std::printf("%-13s %-9s %-9s %-18s %-4s %-8s %s\n", c.address.c_str(),
                        (hex4(c.vendor) + ":" + hex4(c.device)).c_str(),
                        (hex4(c.subsys_vendor) + ":" + hex4(c.subsys_device)).c_str(),
                        c.link.empty() ? "-" : c.link.c_str(),
                        c.numa_node < 0 ? "-" : std::to_string(c.numa_node).c_str(),
                        c.driver.empty() ? "-" : c.driver.c_str(), rest.c_str());
        }
        if (cards.empty())
            std::printf("(no HC1 card on the PCI bus)\n");
        else if (!hc::driver_loaded())
            std::printf("hc1 driver not loaded: sudo modprobe hc1\n");
    }
    if (cards.empty())
        return kNoCard;
    return kOk;
}

} // namespace hcctl

"""Host state of the agents after converge, read with testinfra (molecule/default/verify.yml runs it first).

What an operator would check on a host by hand: packages, files with their modes and owners, services,
sysctls, the loaded nftables table and the guard. The behaviour (packets, restarts, drift, refused rulesets,
live changes) is checked by the Ansible plays of verify.yml.

Run by hand against running containers (after `molecule converge -s default`):

    pytest molecule/default/tests --hosts='ansible://meshconnect_agents' \
        --ansible-inventory="$HOME/.ansible/tmp/molecule.*.default/inventory"
"""

import json
import re

import pytest
import testinfra

# The releases the scenario's agents run, one each (molecule.yml: the platforms' images).
DEBIAN_RELEASES = {"bookworm", "trixie"}
DIGEST = re.compile(r"meshconnect[.]mesh sha1:([0-9a-f]{40})")


@pytest.fixture(scope="module")
def agent(host):
    """What the inventory says about this agent: its interface and whether it routes for its site."""
    variables = host.ansible.get_variables()
    network = variables.get("meshconnect_network", {})
    site = variables["meshconnect_site"]
    return {"interface": network.get("interface", "mc0"), "router": site.get("router", True)}


def test_the_agents_cover_every_debian_release(request):
    inventory = request.config.option.ansible_inventory
    hosts = testinfra.get_hosts(["ansible://meshconnect_agents"], ansible_inventory=inventory)
    releases = sorted(h.system_info.codename for h in hosts)
    assert sorted(DEBIAN_RELEASES) == releases


@pytest.mark.parametrize("name", ["wireguard-tools", "nftables", "python3-nftables", "ulogd2"])
def test_package_installed(host, name):
    assert host.package(name).is_installed


def test_wireguard_go_where_the_kernel_has_no_wireguard(host, agent):
    kernel = host.file("/sys/module/wireguard").is_directory
    assert host.package("wireguard-go").is_installed != kernel
    assert host.interface(agent["interface"]).exists


@pytest.mark.parametrize(
    ("path", "kind", "mode"),
    [
        ("/etc/meshconnect", "directory", "0700"),
        ("/etc/meshconnect/private.key", "file", "0600"),
        ("/etc/meshconnect/firewall.nft", "file", "0600"),
        ("/etc/meshconnect/guard.json", "file", "0600"),
        ("/etc/meshconnect/ulogd.conf", "file", "0600"),
        ("/etc/wireguard/{interface}.conf", "file", "0600"),
        ("/usr/local/sbin/meshconnect-guard", "file", "0755"),
        ("/usr/local/lib/meshconnect/meshconnect_guard.py", "file", "0644"),
        ("/etc/systemd/system/meshconnect-firewall.service", "file", "0644"),
        ("/etc/systemd/system/meshconnect-denylog.service", "file", "0644"),
        ("/etc/systemd/system/wg-quick@{interface}.service.d/meshconnect.conf", "file", "0644"),
        ("/etc/sysctl.d/60-meshconnect.conf", "file", "0644"),
    ],
)
def test_file_mode_and_owner(host, agent, path, kind, mode):
    f = host.file(path.format(**agent))
    assert f.exists, path
    assert (f.is_directory if kind == "directory" else f.is_file and not f.is_symlink), f"{path} is not a {kind}"
    assert (f.user, f.group) == ("root", "root")
    assert f"{f.mode:04o}" == mode


def test_private_key_stays_out_of_the_wireguard_config(host, agent):
    conf = host.file("/etc/wireguard/{interface}.conf".format(**agent)).content_string
    assert "PrivateKey" not in conf


def test_tunnel_runs_the_key_of_the_key_file(host, agent):
    from_file = host.check_output("wg pubkey < /etc/meshconnect/private.key")
    live = host.check_output("wg show %s public-key", agent["interface"])
    assert live == from_file


@pytest.mark.parametrize(
    "unit", ["meshconnect-firewall.service", "meshconnect-denylog.service", "wg-quick@{interface}.service"]
)
def test_service_enabled_and_running(host, agent, unit):
    service = host.service(unit.format(**agent))
    assert service.is_enabled
    assert service.is_running


def test_forwarding_on_for_a_router_off_for_a_side_loaded_agent(host, agent):
    expected = 1 if agent["router"] else 0
    assert host.sysctl("net.ipv4.ip_forward") == expected
    persisted = host.file("/etc/sysctl.d/60-meshconnect.conf").content_string.split()
    assert f"net.ipv4.ip_forward={expected}" in persisted


def test_the_live_table_is_the_file(host):
    live = host.run("nft list table inet meshconnect")
    assert live.rc == 0, live.stderr
    on_file = DIGEST.search(host.file("/etc/meshconnect/firewall.nft").content_string)
    in_force = DIGEST.search(live.stdout)
    assert on_file and in_force, "the table's comment carries no digest"
    assert in_force.group(1) == on_file.group(1)


def test_the_guard_reports_table_and_routing_guard_complete(host, agent):
    report = json.loads(host.check_output("/usr/local/sbin/meshconnect-guard check %s", agent["interface"]))
    assert report == {"table_loaded": True, "guard": []}


def test_a_mapped_lan_is_translated_by_prefix_on_its_agent(host):
    """hq publishes 192.168.77.0/24 as 10.77.0.0/24: destinations in, sources out; nobody else maps."""
    site = host.ansible.get_variables()["meshconnect_site"]
    live = host.check_output("nft list table inet meshconnect")
    if not site.get("mappings"):
        assert "prefix to" not in live
        return
    assert re.search(r'iifname "mc0" ip daddr 10\.77\.0\.0/24 dnat ip prefix to 192\.168\.77\.0/24', live), live
    assert re.search(r'oifname "mc0" ip saddr 192\.168\.77\.0/24 snat ip prefix to 10\.77\.0\.0/24', live), live
    assert re.search(r"ip daddr \{? ?192\.168\.77\.0/24 ?\}? ct status & dnat != dnat", live), live

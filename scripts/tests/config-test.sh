#!/usr/bin/env bash
# Tests the network's configuration files without Fabric: every YAML file under fabric-network/ and
# crypto-config/ parses, and says what the network relies on (channel profile and policies, NodeOUs and
# SANs, the CA registrar's rights over the club/role attributes and its signing profiles, the compose
# services, ports, builder wiring and network name). Needs python3 with PyYAML (run.sh installs it).
suite=network-config
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "$suite: python3 cannot import yaml (PyYAML); scripts/tests/run.sh installs it with pip" >&2
  check "PyYAML is available to parse the configuration" false
  finish
  exit 1
fi

# The checks print "PASS name" or "FAIL name: detail", one per line.
results=$(cd "$repo" && python3 - <<'PY'
import glob, os, re, yaml

def report(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))

def check(name, fn):
    try:
        ok = fn()
        report(name, ok is not False, "condition false")
    except Exception as error:  # a missing key is a failed check, not a crash
        report(name, False, f"{type(error).__name__}: {error}")

files = sorted(glob.glob("fabric-network/**/*.yaml", recursive=True) + glob.glob("fabric-network/**/*.yml", recursive=True)
               + glob.glob("crypto-config/**/*.yaml", recursive=True) + glob.glob("crypto-config/**/*.yml", recursive=True))
docs = {}
for path in files:
    try:
        docs[path] = yaml.safe_load(open(path))
        report(f"{path} parses", isinstance(docs[path], dict), "not a mapping")
    except yaml.YAMLError as error:
        report(f"{path} parses", False, str(error).replace("\n", " "))
report("the YAML files are there", len(files) >= 8, f"found {files}")

# ---- configtx.yaml
tx = docs.get("fabric-network/configtx.yaml") or {}
profile = (tx.get("Profiles") or {}).get("ReciprocalChannel") or {}
orderer = profile.get("Orderer") or {}
app = profile.get("Application") or {}
check("configtx: profile ReciprocalChannel exists", lambda: bool(profile))
check("configtx: no system channel (no Consortiums)", lambda: "Consortiums" not in profile and "Consortium" not in profile)
check("configtx: etcdraft orderer", lambda: orderer["OrdererType"] == "etcdraft")
consenters = lambda: orderer["EtcdRaft"]["Consenters"]
check("configtx: exactly one consenter, orderer.example.com:7050", lambda: [(c["Host"], c["Port"]) for c in consenters()] == [("orderer.example.com", 7050)])
check("configtx: consenter TLS certs are the orderer's TLS server cert",
      lambda: all(c[k].endswith("orderers/orderer.example.com/tls/server.crt") for c in consenters() for k in ("ClientTLSCert", "ServerTLSCert")))
check("configtx: BatchTimeout 2s", lambda: orderer["BatchTimeout"] == "2s")
check("configtx: batch size 10 / 99 MB / 512 KB", lambda: orderer["BatchSize"] == {"MaxMessageCount": 10, "AbsoluteMaxBytes": "99 MB", "PreferredMaxBytes": "512 KB"})
check("configtx: orderer org OrdererMSP", lambda: [o["ID"] for o in orderer["Organizations"]] == ["OrdererMSP"])
check("configtx: orderer endpoint orderer.example.com:7050", lambda: orderer["Organizations"][0]["OrdererEndpoints"] == ["orderer.example.com:7050"])
check("configtx: application orgs Org1MSP and Org2MSP", lambda: [(o["Name"], o["ID"]) for o in app["Organizations"]] == [("Org1MSP", "Org1MSP"), ("Org2MSP", "Org2MSP")])
check("configtx: anchor peers peer0.org1:7051 and peer0.org2:9051",
      lambda: [o["AnchorPeers"] for o in app["Organizations"]] == [[{"Host": "peer0.org1.example.com", "Port": 7051}], [{"Host": "peer0.org2.example.com", "Port": 9051}]])
for o in (app.get("Organizations") or []):
    msp = o.get("ID")
    n = msp[3] if msp else "?"
    check(f"configtx: {msp} MSPDir is ../organizations/peerOrganizations/org{n}.example.com/msp",
          lambda o=o, n=n: o["MSPDir"] == f"../organizations/peerOrganizations/org{n}.example.com/msp")
    rules = lambda o=o: {k: v["Rule"] for k, v in o["Policies"].items()}
    check(f"configtx: {msp} policies as in the test network", lambda rules=rules, m=msp: rules() == {
        "Readers": f"OR('{m}.admin', '{m}.peer', '{m}.client')", "Writers": f"OR('{m}.admin', '{m}.client')",
        "Admins": f"OR('{m}.admin')", "Endorsement": f"OR('{m}.peer')"})
check("configtx: orderer MSPDir", lambda: orderer["Organizations"][0]["MSPDir"] == "../organizations/ordererOrganizations/example.com/msp")
check("configtx: LifecycleEndorsement MAJORITY Endorsement", lambda: app["Policies"]["LifecycleEndorsement"] == {"Type": "ImplicitMeta", "Rule": "MAJORITY Endorsement"})
check("configtx: Endorsement MAJORITY Endorsement", lambda: app["Policies"]["Endorsement"] == {"Type": "ImplicitMeta", "Rule": "MAJORITY Endorsement"})
check("configtx: channel capability V2_0 or V3_0", lambda: list(profile["Capabilities"]) in (["V2_0"], ["V3_0"]) and all(profile["Capabilities"].values()))
check("configtx: orderer capability V2_0", lambda: orderer["Capabilities"] == {"V2_0": True})
check("configtx: application capability V2_5", lambda: app["Capabilities"] == {"V2_5": True})
check("configtx: BlockValidation ANY Writers", lambda: orderer["Policies"]["BlockValidation"]["Rule"] == "ANY Writers")

# ---- crypto-config.yaml
cc = docs.get("crypto-config/crypto-config.yaml") or {}
orgs = lambda: cc["OrdererOrgs"] + cc["PeerOrgs"]
check("cryptogen: orderer org example.com with host orderer", lambda: cc["OrdererOrgs"][0]["Domain"] == "example.com" and cc["OrdererOrgs"][0]["Specs"][0]["Hostname"] == "orderer")
check("cryptogen: peer orgs org1 and org2", lambda: [o["Domain"] for o in cc["PeerOrgs"]] == ["org1.example.com", "org2.example.com"])
check("cryptogen: NodeOUs on in every org", lambda: all(o["EnableNodeOUs"] is True for o in orgs()))
check("cryptogen: orderer SANs localhost and 127.0.0.1", lambda: {"localhost", "127.0.0.1"} <= set(cc["OrdererOrgs"][0]["Specs"][0]["SANS"]))
check("cryptogen: peer SANs localhost and 127.0.0.1", lambda: all({"localhost", "127.0.0.1"} <= set(o["Template"]["SANS"]) for o in cc["PeerOrgs"]))
check("cryptogen: one peer and one user per org", lambda: all(o["Template"]["Count"] == 1 and o["Users"]["Count"] == 1 for o in cc["PeerOrgs"]))

# ---- Fabric CA servers
ports = {}
for org, name, port, ops in (("org1", "ca-org1", 7054, 17054), ("org2", "ca-org2", 8054, 18054), ("ordererOrg", "ca-orderer", 9054, 19054)):
    ca = docs.get(f"crypto-config/fabric-ca/{org}/fabric-ca-server-config.yaml") or {}
    check(f"{name}: name and port", lambda ca=ca, name=name, port=port: ca["ca"]["name"] == name and ca["port"] == port)
    check(f"{name}: TLS on", lambda ca=ca: ca["tls"]["enabled"] is True)
    check(f"{name}: operations on 127.0.0.1:{ops}", lambda ca=ca, ops=ops: ca["operations"]["listenAddress"] == f"127.0.0.1:{ops}")
    registrar = lambda ca=ca: [i for i in ca["registry"]["identities"] if i["name"] == "registrar"][0]
    check(f"{name}: a registrar identity", lambda r=registrar: r()["type"] == "client")
    roles = lambda r=registrar: set(r()["attrs"]["hf.Registrar.Roles"].split(","))
    if org == "ordererOrg":
        check(f"{name}: registrar registers orderer and admin", lambda roles=roles: roles() == {"orderer", "admin"})
    else:
        check(f"{name}: registrar registers peer, client and admin", lambda roles=roles: {"peer", "client", "admin"} <= roles())
        check(f"{name}: registrar may register exactly club and role",
              lambda r=registrar: set(r()["attrs"]["hf.Registrar.Attributes"].split(",")) == {"club", "role"})
        check(f"{name}: affiliations {org}.nodes and {org}.clubs", lambda ca=ca, org=org: ca["affiliations"] == {org: ["nodes", "clubs"]})
    if org == "ordererOrg":
        check(f"{name}: affiliation ordererorg.nodes", lambda ca=ca: ca["affiliations"] == {"ordererorg": ["nodes"]})
    # Fabric CA writes each affiliation component as an OU: one named like a NodeOU role makes the MSP
    # see two roles in one certificate and reject the identity.
    def components(tree):
        for key, value in (tree or {}).items():
            yield key
            yield from (v for v in value if isinstance(v, str)) if isinstance(value, list) else components(value)
    check(f"{name}: no affiliation component is a NodeOU role name",
          lambda ca=ca: not set(components(ca["affiliations"])) & {"client", "peer", "admin", "orderer"})
    check(f"{name}: enrollment certificates for digital signature", lambda ca=ca: "digital signature" in ca["signing"]["default"]["usage"])
    check(f"{name}: tls profile for server and client auth",
          lambda ca=ca: {"server auth", "client auth"} <= set(ca["signing"]["profiles"]["tls"]["usage"]))
    check(f"{name}: CA TLS certificate names localhost", lambda ca=ca: "localhost" in ca["csr"]["hosts"])

# ---- compose
net = docs.get("fabric-network/compose/compose-net.yaml") or {}
cas = docs.get("fabric-network/compose/compose-ca.yaml") or {}
ccf = docs.get("fabric-network/compose/compose-chaincode.yaml") or {}
services = {**(cas.get("services") or {}), **(net.get("services") or {}), **(ccf.get("services") or {})}
check("compose: the services", lambda: set(services) == {"ca.org1.example.com", "ca.org2.example.com", "ca.example.com",
      "orderer.example.com", "peer0.org1.example.com", "peer0.org2.example.com", "reciprocal-chaincode"})
check("compose: every file names network reciprocal-clubs",
      lambda: all(d["networks"]["reciprocal-clubs"]["name"] == "reciprocal-clubs" for d in (net, cas, ccf)))
check("compose: every service is on reciprocal-clubs", lambda: all(s["networks"] == ["reciprocal-clubs"] for s in services.values()))
def published(default_only=True):
    out = []
    for s in services.values():
        for p in s.get("ports", []):
            host, container = str(p).rsplit(":", 1)
            m = re.fullmatch(r"\$\{[A-Z0-9_]+:-(\d+)\}", host)
            out.append((int(m.group(1)) if m else int(host), int(container)))
    return out
check("compose: published ports are the team's", lambda: sorted(published()) == sorted([
    (7054, 7054), (17054, 17054), (8054, 8054), (18054, 18054), (9054, 9054), (19054, 19054),
    (7050, 7050), (7053, 7053), (9443, 9443), (7051, 7051), (9444, 9444), (9051, 9051), (9445, 9445)]))
check("compose: the chaincode is not published on the host", lambda: "ports" not in services["reciprocal-chaincode"])
env = lambda s: services[s]["environment"]
check("compose: orderer without system channel", lambda: env("orderer.example.com")["ORDERER_GENERAL_BOOTSTRAPMETHOD"] == "none")
check("compose: orderer admin on 7053, operations on 9443", lambda: env("orderer.example.com")["ORDERER_ADMIN_LISTENADDRESS"] == "0.0.0.0:7053"
      and env("orderer.example.com")["ORDERER_OPERATIONS_LISTENADDRESS"] == "0.0.0.0:9443")
for n, port, ops in ((1, 7051, 9444), (2, 9051, 9445)):
    peer = f"peer0.org{n}.example.com"
    check(f"compose: {peer} listens on {port}, operations {ops}", lambda peer=peer, port=port, ops=ops:
          env(peer)["CORE_PEER_LISTENADDRESS"] == f"0.0.0.0:{port}" and env(peer)["CORE_OPERATIONS_LISTENADDRESS"] == f"0.0.0.0:{ops}")
    check(f"compose: {peer} chaincode listener is off 7052", lambda peer=peer:
          not env(peer)["CORE_PEER_CHAINCODELISTENADDRESS"].endswith(":7052") and not env(peer)["CORE_PEER_CHAINCODEADDRESS"].endswith(":7052"))
    check(f"compose: {peer} gossip external endpoint is its service name", lambda peer=peer, port=port:
          env(peer)["CORE_PEER_GOSSIP_EXTERNALENDPOINT"] == f"{peer}:{port}")
    check(f"compose: {peer} MSP Org{n}MSP", lambda peer=peer, n=n: env(peer)["CORE_PEER_LOCALMSPID"] == f"Org{n}MSP")
    check(f"compose: {peer} retries gossip connections after 5s, not 25s", lambda peer=peer:
          env(peer).get("CORE_PEER_GOSSIP_RECONNECTINTERVAL") == "5s")
    def builder_mounted(peer=peer):
        builders = yaml.safe_load(env(peer)["CORE_CHAINCODE_EXTERNALBUILDERS"])
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[peer]["volumes"]}
        return len(builders) == 1 and mounts[builders[0]["path"]] == "../builders/ccaas"
    check(f"compose: {peer} runs our ccaas builder, mounted from fabric-network/builders/ccaas", builder_mounted)
check("compose: the chaincode serves on 0.0.0.0:7052 with CHAINCODE_ID from the deploy",
      lambda: env("reciprocal-chaincode")["CHAINCODE_SERVER_ADDRESS"] == "0.0.0.0:7052"
      and env("reciprocal-chaincode")["CHAINCODE_ID"].startswith("${CHAINCODE_ID"))
check("compose: the chaincode serves plaintext unless deployCC --tls says otherwise",
      lambda: env("reciprocal-chaincode")["CHAINCODE_TLS_DISABLED"] == "${CHAINCODE_TLS_DISABLED:-true}")
check("compose: the builder path in compose exists", lambda: os.access("fabric-network/builders/ccaas/bin/detect", os.X_OK))
dockerfile = open("fabric-network/chaincode.Dockerfile").read()
check("chaincode.Dockerfile copies reciprocal-chaincode and exposes 7052",
      lambda: "COPY reciprocal-chaincode" in dockerfile and "EXPOSE 7052" in dockerfile)
PY
)
while IFS= read -r line; do
  case "$line" in
    PASS\ *) check "${line#PASS }" true ;;
    FAIL\ *) check "${line#FAIL }" false ;;
    *) check "unexpected output: $line" false ;;
  esac
done <<<"$results"

# What Compose itself makes of the files, where a Compose is installed (Docker's plugin or docker-compose).
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
  files=(-p reciprocal-clubs -f compose-ca.yaml -f compose-net.yaml -f compose-chaincode.yaml)
  out=$(cd "$repo/fabric-network/compose" &&
    FABRIC_NETWORK_STATE=/state CHAINCODE_ID=reciprocal_1.0:0 "${compose[@]}" "${files[@]}" config 2>&1)
  check "${compose[*]} accepts the three compose files together" test $? -eq 0
  check "${compose[*]} mounts our builder into the peers" \
    contains "$out" "$repo/fabric-network/builders/ccaas:/opt/reciprocal/ccaas_builder:ro"
  check "${compose[*]} mounts the orderer's TLS folder from the state directory" \
    contains "$out" "/state/organizations/ordererOrganizations/example.com/orderers/orderer.example.com/tls:/var/hyperledger/orderer/tls:ro"
  out=$(cd "$repo/fabric-network/compose" &&
    env -u FABRIC_NETWORK_STATE CHAINCODE_ID=reciprocal_1.0:0 "${compose[@]}" "${files[@]}" config 2>&1)
  check "${compose[*]} refuses the files without a state directory" test $? -ne 0
  check "the refusal says to use scripts/network.sh" contains "$out" "run scripts/network.sh"
else
  echo "$suite: no docker compose or docker-compose here; the compose files were only parsed" >&2
fi

finish

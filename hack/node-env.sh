# Names and addresses of a local cluster's real node, derived from the cluster's name
# ($NAME), so that two local clusters (airkube and the tests' airkube-e2e) can each
# have one. Sourced by hack/cluster.sh (the API server's certificate names the node
# link's host address) and hack/node.sh.
#
# The node lives in a network namespace of its own, joined to the host by a veth pair:
#   host side  $NODE_HOST_IP/30   (the API server is reached here, and the host's services)
#   node side  $NODE_IP/30        (kubelet's address; the default route goes to the host)
#   pods       $NODE_POD_CIDR     (a bridge inside the node's namespace, masqueraded)
# so kubelet, the CNI bridge, its iptables rules and its ip_forward change nothing on
# the host's own network.
NODE_IDX=$(($(printf %s "$NAME" | cksum | cut -d' ' -f1) % 250 + 1))
NODE_NAME="real-node-0"
NODE_VETH_HOST="akn${NODE_IDX}h"
NODE_VETH_NODE="akn${NODE_IDX}n"
NODE_HOST_IP="10.213.$NODE_IDX.1"
NODE_IP="10.213.$NODE_IDX.2"
NODE_POD_CIDR="10.214.$NODE_IDX.0/24"
# Every cgroup of the node (kubelet, containerd, the pods) is under this one, in each
# cgroup v1 hierarchy, so teardown can find and remove them all.
NODE_CGROUP="airkube-$NAME"
NODE_STATE="$AIRKUBE_CACHE/node/$NAME"

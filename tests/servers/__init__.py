"""Real Redis/Valkey servers for the production-topology tests: a Cluster, a Sentinel
group, a TLS server and an ACL server, each made of real processes on free ports that a
test can SIGKILL and restart. `fixtures.py` turns them into pytest fixtures."""

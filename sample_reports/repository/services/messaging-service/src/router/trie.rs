// messaging-service/src/router/trie.rs: a stand-in (generate.py)

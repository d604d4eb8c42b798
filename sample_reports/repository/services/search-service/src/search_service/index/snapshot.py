# search-service/src/search_service/index/snapshot.py: a stand-in (generate.py)

# search-service/src/search_service/index/indexer.py: a stand-in (generate.py)

# search-service/src/search_service/query/bm25.py: a stand-in (generate.py)

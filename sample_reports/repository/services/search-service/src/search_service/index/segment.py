# search-service/src/search_service/index/segment.py: a stand-in (generate.py)

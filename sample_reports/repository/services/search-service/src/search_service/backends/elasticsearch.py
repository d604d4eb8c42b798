# search-service/src/search_service/backends/elasticsearch.py: a stand-in (generate.py)

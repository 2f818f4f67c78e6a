"""The search room: from a reader's words to cited, ranked passages, and from a place name to plans.

Owns the tokenizer (jieba plus the policy dictionary in `bot/data/`), the index (on tantivy), fuzzy correction
(homophones, pinyin, near phrases, synonyms), the ranking engine with its snippets, and place lookup.

May import: `bot.corpus` and the shared top-level modules.
Must not import: `bot.digests`, `bot.telegram`, `handlers`, or `telegram`.
"""

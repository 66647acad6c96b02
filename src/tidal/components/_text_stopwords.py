"""Built-in stop-word lists for text.stop_words: common English and Chinese function words.

Short, hand-picked lists of words that carry little topic on their own (articles, pronouns,
auxiliaries, conjunctions, prepositions, particles). Extend them per pipeline with the
component's ``extra_words`` parameter or a table of words.
"""

from __future__ import annotations

ENGLISH = frozenset(
    """
    a about above after again against all almost also although always am among an and another any
    anyone anything are around as at be became because been before being below between both but by
    can cannot could did do does doing done down during each either else enough etc even ever every
    few for from further get gets got had has have having he her here hers herself him himself his
    how however i if in into is it its itself just least less let like many may me might mine more
    most much must my myself neither no nobody none nor not nothing now of off often on once one only
    or other others otherwise our ours ourselves out over own per perhaps please quite rather really
    same several shall she should since so some someone something still such than that the their
    theirs them themselves then there therefore these they this those though through thus to
    together too toward towards under until up upon us very via was we were what whatever when
    whenever where whereas wherever whether which while who whoever whom whose why will with within
    without would yet you your yours yourself yourselves
    isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't
    hasn't haven't hadn't i'm you're he's she's it's we're they're i've you've we've they've
    i'll you'll he'll she'll we'll they'll i'd you'd he'd she'd we'd they'd that's there's
    """.split()
)

CHINESE = frozenset(
    """
    的 了 和 是 在 也 就 都 而 及 与 着 或 一个 没有 我们 你们 他们 她们 它们 我 你 他 她 它 这 那
    这个 那个 这些 那些 这样 那样 这里 那里 之 其 此 把 被 让 给 对 向 从 自 自从 到 于 以 为 为了
    因为 所以 因此 但是 但 然而 可是 不过 而且 并且 并 如果 假如 要是 虽然 尽管 即使 还是 或者 还
    又 再 才 只 只是 只有 已经 曾经 正在 将 将要 会 能 可以 可能 应该 要 想 得 地 过 吗 呢 吧 啊
    呀 哦 嗯 么 嘛 啦 哪 哪里 哪个 什么 怎么 怎样 为什么 如何 谁 多少 几 每 各 某 些 个 们 者
    等 等等 之一 之后 之前 以后 以前 以及 以上 以下 其中 其他 其它 另外 此外 总之 比如 例如 就是
    也是 还有 不是 没 不 很 非常 太 更 最 比较 一些 一样 一直 一定 所有 任何 自己 别人 大家 有
    有些 有的 关于 按照 根据 通过 经过 随着 对于 由于 由 该 本 啥 嘿 哈 呵 哎 喂 即 便 则 且 乃
    """.split()
)

"""Built-in probe sentences (Chinese first, some English) for the start-up self-check and the whitening check.

Everyday questions in the style of LCQMC / ATEC / BQ (written for simlab, not copied from them).
"""

PROBES = (
    "今天天气怎么样",
    "明天会下雨吗",
    "怎么申请信用卡",
    "信用卡的额度可以提高吗",
    "花呗怎么还款",
    "借呗为什么不能用了",
    "这部手机的电池能用多久",
    "附近有什么好吃的餐厅",
    "我想学习中文，有什么好方法",
    "北京到上海的高铁要几个小时",
    "如何修改登录密码",
    "快递什么时候能到",
    "A cat sits on the mat.",
    "How do I reset my password?",
    "The train from Beijing to Shanghai takes about five hours.",
    "What is the weather like today?",
)

package wecomtest

// Demo data for Seed. Chinese text appears here as test data.

var seedDepartments = []Department{
	{ID: 1, Name: "Kith演示商贸有限公司", ParentID: 0},
	{ID: 2, Name: "销售部", ParentID: 1},
	{ID: 3, Name: "客服部", ParentID: 1},
	{ID: 4, Name: "电商运营部", ParentID: 1},
	{ID: 5, Name: "市场部", ParentID: 1},
}

// seedMembers are the demo staff; weight is their share of customers.
var seedMembers = []struct {
	userID, name, position string
	dept, weight           int
}{
	{"zhangwei", "张伟", "销售经理", 2, 14},
	{"wangfang", "王芳", "客服主管", 3, 12},
	{"lina", "李娜", "销售顾问", 2, 14},
	{"liuyang", "刘洋", "运营专员", 4, 8},
	{"chenjing", "陈静", "客服专员", 3, 12},
	{"yangfan", "杨帆", "市场经理", 5, 6},
	{"zhaolei", "赵磊", "销售顾问", 2, 13},
	{"huangmin", "黄敏", "客服专员", 3, 11},
	{"zhouqiang", "周强", "运营经理", 4, 5},
	{"wuting", "吴婷", "品牌专员", 5, 5},
}

// seedTagGroups are the demo corp tags: 40 tags in 6 groups.
var seedTagGroups = []struct {
	name string
	tags []string
}{
	{"客户等级", []string{"VIP", "金卡", "银卡", "普通", "潜在客户"}},
	{"购买品类", []string{"美妆", "服饰", "母婴", "数码", "食品", "家居", "运动户外", "图书"}},
	{"来源渠道", []string{"抖音", "小红书", "天猫", "京东", "线下门店", "朋友推荐", "公众号"}},
	{"生命周期", []string{"新客", "活跃", "复购", "沉睡", "流失预警", "已流失"}},
	{"地区", []string{"华东", "华南", "华北", "华中", "西南", "西北", "东北"}},
	{"兴趣", []string{"护肤", "穿搭", "育儿", "健身", "旅行", "美食", "数码控"}},
}

var familyNames = []string{
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高",
	"林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁",
	"潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔",
	"钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏", "韦", "方", "白", "邹", "孟", "熊", "秦", "邱",
	"江", "尹", "薛", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵", "万", "严",
	"欧阳", "司马", "上官",
}

var givenNames = []string{
	"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞",
	"平", "刚", "鑫", "宇", "浩然", "子涵", "欣怡", "梓轩", "雨萱", "思远", "诗琪", "嘉怡", "俊杰", "晓东",
	"丹丹", "婷婷", "佳琪", "志强", "秀英", "桂兰", "建华", "国庆", "文博", "一诺", "语桐", "浩宇", "若曦",
	"明轩", "晨阳", "雅琴", "海燕", "春梅", "晓峰", "振华", "立新", "慧敏", "梦洁", "静怡", "宏伟", "天佑",
	"紫萱", "可馨", "子墨", "晨曦", "雪梅", "玉兰", "志明", "家豪", "嘉欣", "思雨", "博文", "雨桐", "奕辰",
	"书瑶", "美玲", "凯", "琳", "悦", "颖", "昊", "睿", "萌",
}

// seedCorps are the companies of customers who are WeCom users.
var seedCorps = []struct{ short, full string }{
	{"腾讯", "深圳市腾讯计算机系统有限公司"},
	{"京东", "北京京东世纪贸易有限公司"},
	{"美团", "北京三快在线科技有限公司"},
	{"小米", "小米科技有限责任公司"},
	{"网易", "网易(杭州)网络有限公司"},
	{"顺丰", "顺丰速运有限公司"},
	{"万科", "万科企业股份有限公司"},
	{"海底捞", "四川海底捞餐饮股份有限公司"},
}

var seedPositions = []string{"采购经理", "行政主管", "市场总监", "店长", "福利专员"}

// seedStates are 「联系我」 state values of the merchant's channels.
var seedStates = []string{"ch_douyin", "ch_xiaohongshu", "ch_tmall", "ch_jd", "ch_store", "ch_gzh", "ch_live"}

var remarkSuffixes = []string{"", "-老客户", "-VIP", "(抖音)", "-宝妈", "-复购", "-团购", "-直播间"}

var seedDescriptions = []string{
	"偏好护肤品，月均消费800元", "双十一大促新客", "关注新品上市", "需要开发票", "对价格敏感，关注优惠券",
	"喜欢直播间下单", "为家人代购", "公司福利采购联系人", "只在周末回复消息",
}

// addWays are add_way values with their weights: 1 QR code, 2 phone search,
// 3 card share, 4 group chat, 5 phone contacts, 6 WeChat contact,
// 201 shared by a colleague, 202 assigned by an admin.
var addWays = []struct{ way, weight int }{
	{1, 45}, {2, 10}, {3, 8}, {4, 12}, {5, 5}, {6, 10}, {201, 5}, {202, 5},
}

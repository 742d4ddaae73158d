package gate

import (
	"regexp"
	"strings"

	"github.com/kith-scrm/kith/internal/consent"
)

// Promotional signals (P-18). A service message showing any of them is
// refused as PROMO_IN_SERVICE. The list is a heuristic, tuned to refuse
// rather than let through:
//   - Chinese words of offers: 优惠 券 促销 特价 秒杀 满减 上新 限时 抢购 红包
//     折扣 打折 包邮 会员日 大促, and "N折" (a digit or 一…九/半 before 折, so
//     折叠 or 折旧 do not count);
//   - English words: coupon, discount, sale, promo(tion), % off, voucher,
//     deal(s), offer(s), "buy now";
//   - links whose address carries a campaign tag: utm_ parameters, coupon=,
//     promo=.
var (
	promoWords = []string{"优惠", "券", "促销", "特价", "秒杀", "满减", "上新", "限时", "抢购", "红包",
		"折扣", "打折", "包邮", "会员日", "大促"}
	promoRe = regexp.MustCompile(`(?i)([0-9一二三四五六七八九半]\s*折)|\b(coupons?|discounts?|sales?|promo|promotions?|vouchers?|deals?|offers?|buy now)\b|[0-9]+\s*%\s*off\b|https?://\S*[?&](utm_[a-z]+|coupon|promo)=`)
)

// promotional returns the first promotional signal in text, or "".
func promotional(text string) string {
	for _, w := range promoWords {
		if strings.Contains(text, w) {
			return w
		}
	}
	return promoRe.FindString(text)
}

var (
	// An SMS opt-out instruction: 回T退订, 拒收请回复R, 回复TD退订, reply STOP.
	optOutRe    = regexp.MustCompile(`(?i)退订|拒收|\bSTOP\b|\bUNSUBSCRIBE\b`)
	signatureRe = regexp.MustCompile(`^\s*【[^】]{2,12}】|【[^】]{2,12}】\s*$`)
	adSubjectRe = regexp.MustCompile(`^\s*(【广告】|\[广告\]|广告|AD\b|\[AD\]|\(AD\)|【AD】)`)
)

// header returns a header's value, matching the name case-insensitively.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// checkContent returns the reason content is refused for its class and
// channel, with a sentence, or OK.
func checkContent(class Class, ch consent.Channel, c Content) (Reason, string) {
	if class == Service {
		if sig := promotional(c.Subject + "\n" + c.Body); sig != "" {
			return PromoInService, "The message is declared as a service message but carries promotional content (\"" + sig + "\"); send it as marketing, with consent."
		}
		return OK, ""
	}
	switch ch {
	case consent.ChannelSMS:
		if !optOutRe.MatchString(c.Body) {
			return MissingOptOut, "A marketing SMS must tell the person how to refuse, e.g. \"回T退订\" or \"拒收请回复R\"."
		}
		if !signatureRe.MatchString(c.Body) {
			return MissingSignature, "A marketing SMS must carry the merchant's 【signature】."
		}
	case consent.ChannelEmail:
		lu := header(c.Headers, "List-Unsubscribe")
		if !strings.Contains(lu, "<https://") || !strings.EqualFold(strings.TrimSpace(header(c.Headers, "List-Unsubscribe-Post")), "List-Unsubscribe=One-Click") {
			return MissingUnsubscribe, "A marketing e-mail needs a List-Unsubscribe header with an https link and \"List-Unsubscribe-Post: List-Unsubscribe=One-Click\" (RFC 8058)."
		}
		if !adSubjectRe.MatchString(c.Subject) {
			return MissingADLabel, "A marketing e-mail's subject must start with \"广告\" or \"AD\"."
		}
	}
	return OK, ""
}

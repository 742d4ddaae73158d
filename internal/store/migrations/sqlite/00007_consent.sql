-- +goose Up
-- The consent ledger (privacy requirements P-10 to P-15, P-20, P-22; see
-- internal/consent/doc.go). A person's consent is a list of events, never a
-- flag: the current state is derived from them. Events are only appended:
-- the triggers below refuse UPDATE always, and DELETE except during an
-- erasure (consent.Erase), which first writes the person into
-- consent_erasures, deletes their events, removes that row again and leaves
-- a hashed entry in consent_suppressions, all in one transaction. Whoever can
-- write the file can still drop the triggers; consent.VerifyChain catches a
-- changed or missing event in a person's hash chain.

-- What consent is asked for.
CREATE TABLE consent_purposes (
    key              TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    -- 单独同意 (P-12): only the person's own dedicated decision grants it,
    -- never an imported list
    separate_consent BOOLEAN NOT NULL DEFAULT FALSE,
    -- commercial purposes are what an opt-out on a channel withdraws (P-20)
    commercial       BOOLEAN NOT NULL DEFAULT FALSE
);

-- The texts people are shown, versioned; a grant names the version and its
-- hash. A version, once published, never changes.
CREATE TABLE consent_notices (
    purpose    TEXT NOT NULL REFERENCES consent_purposes (key),
    version    INTEGER NOT NULL CHECK (version > 0),
    language   TEXT NOT NULL DEFAULT 'zh-CN',
    text       TEXT NOT NULL,
    text_hash  TEXT NOT NULL,           -- hex SHA-256 of the text's UTF-8 bytes
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (purpose, version)
);
-- +goose StatementBegin
CREATE TRIGGER consent_notices_no_update BEFORE UPDATE ON consent_notices BEGIN
    SELECT RAISE(ABORT, 'consent_notices: a published notice never changes; publish a new version');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER consent_notices_no_delete BEFORE DELETE ON consent_notices BEGIN
    SELECT RAISE(ABORT, 'consent_notices: a published notice is never deleted');
END;
-- +goose StatementEnd

-- The persons an erasure is deleting right now: the one door through the
-- DELETE trigger below. Empty outside an erasure transaction.
CREATE TABLE consent_erasures (
    person_kind TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    started_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (person_kind, person_key)
);

-- Consent events. hash is the SHA-256 of prev_hash and the event's canonical
-- encoding (internal/consent/chain.go); prev_hash is the hash of the same
-- person's event before, 64 zeros for their first.
CREATE TABLE consent_events (
    id             INTEGER PRIMARY KEY,
    person_kind    TEXT NOT NULL CHECK (person_kind IN ('external_userid', 'phone', 'email')),
    person_key     TEXT NOT NULL CHECK (person_key <> ''),
    purpose        TEXT NOT NULL REFERENCES consent_purposes (key),
    channel        TEXT NOT NULL CHECK (channel IN ('wecom', 'sms', 'email')),
    action         TEXT NOT NULL CHECK (action IN ('grant', 'withdraw', 'refuse')),
    source         TEXT NOT NULL CHECK (source IN ('customer', 'import', 'opt_out_reply', 'one_click', 'unsubscribe_link', 'member_deleted', 'console', 'api')),
    -- a JSON object of strings: what the person saw and did
    evidence       TEXT NOT NULL CHECK (evidence NOT IN ('', '{}') AND length(CAST(evidence AS BLOB)) <= 2048),
    notice_version INTEGER,             -- required for a grant
    notice_hash    TEXT NOT NULL DEFAULT '',
    scope          TEXT NOT NULL DEFAULT '' CHECK (length(CAST(scope AS BLOB)) <= 2048), -- declared types, frequency, valid_until (JSON)
    recorded_by    TEXT NOT NULL CHECK (recorded_by <> ''),
    occurred_at    TIMESTAMP NOT NULL,
    received_at    TIMESTAMP NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE,
    FOREIGN KEY (purpose, notice_version) REFERENCES consent_notices (purpose, version)
);
-- One successor per event: two writers racing for the same person cannot
-- fork the chain; the second fails and tries again.
CREATE UNIQUE INDEX consent_events_chain ON consent_events (person_kind, person_key, prev_hash);
CREATE INDEX consent_events_person ON consent_events (person_kind, person_key, id);
CREATE INDEX consent_events_state ON consent_events (person_kind, person_key, purpose, channel, occurred_at, id);

-- +goose StatementBegin
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only: UPDATE is refused (record a new event instead)');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
WHEN NOT EXISTS (SELECT 1 FROM consent_erasures e WHERE e.person_kind = old.person_kind AND e.person_key = old.person_key)
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only: DELETE is refused outside an erasure (consent.Erase)');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER consent_events_linear BEFORE INSERT ON consent_events
WHEN new.prev_hash IS NOT coalesce((SELECT hash FROM consent_events WHERE person_kind = new.person_kind AND person_key = new.person_key ORDER BY id DESC LIMIT 1),
    '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'consent_events: a new event must continue the person''s chain (their last hash as prev_hash)');
END;
-- +goose StatementEnd

-- Who must never be contacted again for a purpose on a channel, by a keyed
-- hash of the person (HMAC-SHA256 under the instance's blind-index key), so
-- an erased person leaves no readable trace. Kept for good.
CREATE TABLE consent_suppressions (
    subject_hash TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT NOT NULL,         -- erasure, complaint, …
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (subject_hash, purpose, channel)
);
-- +goose StatementBegin
CREATE TRIGGER consent_suppressions_no_update BEFORE UPDATE ON consent_suppressions BEGIN
    SELECT RAISE(ABORT, 'consent_suppressions: a suppression is never changed');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER consent_suppressions_no_delete BEFORE DELETE ON consent_suppressions BEGIN
    SELECT RAISE(ABORT, 'consent_suppressions: a suppression is never deleted');
END;
-- +goose StatementEnd

-- The purposes Kith knows, and the first version of each notice (zh-CN).
-- internal/consent checks that every text_hash is the SHA-256 of its text.
INSERT INTO consent_purposes (key, name, description, separate_consent, commercial) VALUES
    ('service', 'Service messages', 'Order and after-sales messages', FALSE, FALSE),
    ('marketing', 'Marketing', 'Promotions, new products and member offers', FALSE, TRUE),
    ('archive', 'Conversation archive', 'Archiving WeCom conversations', TRUE, FALSE),
    ('profiling', 'Personalised segments', 'Interest tags and segments built from purchases and behaviour', FALSE, TRUE);
INSERT INTO consent_notices (purpose, version, language, text, text_hash, created_at) VALUES
    ('service', 1, 'zh-CN', '服务消息告知（版本1）：为履行您与本商家的订单和售后约定，本商家将通过企业微信、短信或电子邮件中您留下的联系方式，向您发送订单确认、发货、物流、退换货及售后进度等服务消息。为此处理的个人信息：您的联系方式（手机号、电子邮件地址或企业微信外部联系人标识）和相关订单信息。服务消息不含任何营销内容。相关信息在订单完成后按法律规定的期限保存，期满删除。您可以随时查阅、复制、更正或删除您的个人信息，也可以联系本商家客服行使其他权利。',
        '191ad7a3e1e84d75da7a63878776b45f4681a01567db2363ed67a0ae6e5136e6', CURRENT_TIMESTAMP),
    ('marketing', 1, 'zh-CN', '营销消息同意书（版本1）：经您同意，本商家将通过您同意的渠道（企业微信、短信或电子邮件）向您发送新品、优惠活动和会员权益等商业性信息，只在您同意的消息类型、频次和有效期内发送，并避开夜间免打扰时段。为此处理的个人信息：您的联系方式以及您与本商家的购买和互动记录。您可以随时撤回同意：短信回复“R”或“退订”，点击邮件中的退订链接，或在企业微信中告诉客服，撤回立即生效，但不影响撤回前基于同意已进行的处理。不同意或撤回同意，不影响您购买商品和享受售后服务。',
        '76e37a40c57214dd61ee9932b44dafe464dfd55be75c57279cb2a177a59536be', CURRENT_TIMESTAMP),
    ('archive', 1, 'zh-CN', '会话存档单独同意书（版本1）：为服务质量检查、纠纷处理和合规需要，本商家将通过企业微信会话内容存档功能，保存您与本商家员工之间的聊天内容（文字、图片、语音、文件等），其中可能包含支付、转账等敏感个人信息。本项处理需要您的单独同意。存档内容只允许经授权的人员为上述目的查阅，每次查阅都有记录，保存期限届满后删除。您可以随时撤回同意，撤回后不再存档新的会话内容。不同意或撤回同意，不影响您与本商家沟通、购买商品和享受售后服务。',
        'cf760f460e795a1f64283f37625f8f9f30bce47c3d3527fb87f007118fdf023d', CURRENT_TIMESTAMP),
    ('profiling', 1, 'zh-CN', '个性化推荐同意书（版本1）：经您同意，本商家将根据您的购买记录、浏览和互动行为进行分析，形成兴趣标签和客户分群，用于向您推送更符合您偏好的商品和活动信息。本商家不会根据分析结果在交易价格等交易条件上对您实行不合理的差别待遇。您可以随时拒绝或撤回个性化推荐，撤回后本商家停止依据分析结果向您推送，您仍可能收到不针对个人特征的一般信息（如您已同意接收营销消息）。',
        '7ee489fc3eff6a67ed4f5ddd0d29c567fb2f759808a4cab066736b457ee3971a', CURRENT_TIMESTAMP);

-- +goose Down
DROP TABLE consent_suppressions;
DROP TABLE consent_events;
DROP TABLE consent_erasures;
DROP TABLE consent_notices;
DROP TABLE consent_purposes;

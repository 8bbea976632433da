"""Every outbound mail template, rendered with a fixed context and compared with its
golden files in ``tests/golden/templates/`` (subject, text and HTML, per language).

After a reviewed change to a template, regenerate the golden files with
``LIAISON_UPDATE_GOLDEN=1 pytest tests/test_templates.py`` and review the diff.
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest

from templates.errors import MissingContextError, UnformattedValueError, UnknownTemplateError
from templates.render import (
    ENVIRONMENT,
    LANGUAGES,
    TEMPLATE_DIR,
    RenderedMail,
    available_mails,
    render_mail,
    required_context,
)

GOLDEN = Path(__file__).parent / "golden" / "templates"
UPDATE = os.environ.get("LIAISON_UPDATE_GOLDEN", "") not in ("", "0")

_REQUEST = {
    "zh": {
        "number": "XT-2026-0015",
        "title": "供应商对账流程线上化",
        "requester_name": "李娜",
        "requester_email": "li.na@example.com",
        "requesting_department": "财务部",
        "receiving_departments": "信息部、采购部",
        "background": (
            "目前每月与 40 余家供应商手工对账，耗时约 5 个工作日。\n"
            "目标：对账单自动生成，差异在线确认。"
        ),
        "due": "2026年3月31日（周二）",
        "urgency": "紧急",
        "resources": "信息部开发 1 人，采购部对接人 1 人",
        "acceptance_criteria": "",
        "attachments": ["对账流程现状.xlsx (48 KB)", "供应商清单.pdf (1.2 MB)"],
        "has_attachments": True,
        "deadline": "2026年3月17日（周二） 18:00",
    },
    "en": {
        "number": "XT-2026-0015",
        "title": "Supplier reconciliation online",
        "requester_name": "Li Na",
        "requester_email": "li.na@example.com",
        "requesting_department": "Finance",
        "receiving_departments": "IT, Purchasing",
        "background": (
            "Reconciling with some 40 suppliers by hand takes 5 working days a month.\n"
            "Goal: statements generated, differences confirmed online."
        ),
        "due": "Tue 2026-03-31",
        "urgency": "urgent",
        "resources": "",
        "acceptance_criteria": "Every supplier statement reconciled within 2 days",
        "attachments": [],
        "has_attachments": False,
        "deadline": "Tue 2026-03-17 18:00 (Asia/Shanghai)",
    },
}

#: Who evaluates a request and signs the requester's mails (workflow.evaluation
#: .evaluator_context): the coordination office, or, where the profile has no office step
#: (intra-department), the head of the requester's department.
_BY_OFFICE = {
    "zh": {"evaluator": "协调办公室", "signature": "协调办公室"},
    "en": {"evaluator": "the coordination office", "signature": "Coordination office"},
}
_BY_HEAD = {
    "zh": {"evaluator": "财务部负责人何军", "signature": "财务部协调邮箱"},
    "en": {"evaluator": "He Jun (head of Finance)", "signature": "Finance coordination mailbox"},
}

CONTEXTS: dict[str, dict[str, dict[str, object]]] = {
    "requester/acknowledged": {
        "zh": {**_REQUEST["zh"], **_BY_OFFICE["zh"]},
        "en": {**_REQUEST["en"], **_BY_OFFICE["en"]},
    },
    "office/evaluation_notice": _REQUEST,
    # --- plan approval, the profiles' stages (workflow/plans.py, evaluation.py, acceptance.py)
    "head/evaluation_notice": {
        "zh": {**_REQUEST["zh"], "department": "财务部"},
        "en": {**_REQUEST["en"], "department": "Finance"},
    },
    "evaluator/name_departments": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "requester": "李娜 <li.na@example.com>",
            "requesting_department": "财务部",
            "receiving_departments": "信息部、采购部",
            "supporting_departments": "采购部",
            "deadline": "2026年3月18日（周三） 18:00",
            "keywords": ["受理 牵头部门：X 配合部门：Y、Z"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "requester": "Li Na <li.na@example.com>",
            "requesting_department": "Finance",
            "receiving_departments": "IT, Purchasing",
            "supporting_departments": "",
            "deadline": "Wed 2026-03-18 18:00 (Asia/Shanghai)",
            "keywords": ["ACCEPT lead: X support: Y, Z"],
        },
    },
    "head/plan_request": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "consolidated": True,
            "department": "信息部",
            "lead_department": "信息部",
            "supporting_departments": "财务部、采购部",
            "approvers": "何军 <finance.lead@example.com>、黄伟 <gm@example.com>",
            "deadline": "2026年3月25日（周三） 18:00",
            "tag": "[方案] XT-2026-0015",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "consolidated": False,
            "department": "Finance",
            "lead_department": "IT",
            "supporting_departments": "Finance, Purchasing",
            "approvers": "",
            "deadline": "Mon 2026-03-23 18:00 (Asia/Shanghai)",
            "tag": "[PLAN] XT-2026-0015",
        },
    },
    "lead/department_plan": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "department": "财务部",
            "author": "何军 <finance.lead@example.com>",
            "version": "2",
            "text": "一、对账口径：按月结算。\n二、负责人：吴芳，3月底前完成。",
            "attachments": ["财务部实施方案.docx (36 KB)"],
            "missing": "采购部",
            "tag": "[方案] XT-2026-0015",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "department": "Finance",
            "author": "He Jun <finance.lead@example.com>",
            "version": "1",
            "text": "",
            "attachments": [],
            "missing": "",
            "tag": "[PLAN] XT-2026-0015",
        },
    },
    "approver/plan_approval": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "2",
            "lead_department": "信息部",
            "author": "赵磊 <zhao.lei@example.com>",
            "submitted": "2026年3月20日（周五） 10:00",
            "position": "第 2 位（共 2 位）",
            "text": "总体方案：4月1日起三家供应商试点。\n责任矩阵见附件。",
            "attachments": ["总体方案.pdf (1.2 MB)"],
            "department_plans": [
                "财务部：何军 <finance.lead@example.com>，第1版，2026年3月18日（周三） 10:00"
            ],
            "earlier": ["何军 <finance.lead@example.com>：同意 2026年3月20日（周五） 11:00"],
            "keywords": ["同意（或：批准）", "驳回：理由（说明需要修改之处）"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "1",
            "lead_department": "IT",
            "author": "Zhao Lei <zhao.lei@example.com>",
            "submitted": "Fri 2026-03-20 10:00 (Asia/Shanghai)",
            "position": "1 of 2",
            "text": "",
            "attachments": [],
            "department_plans": [],
            "earlier": [],
            "keywords": ["APPROVE", "REJECT: reason (what must change)"],
        },
    },
    "lead/plan_rejected": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "1",
            "approver": "黄伟 <gm@example.com>",
            "reason": "预算明细缺少第三季度人力成本",
            "tag": "[方案] XT-2026-0015",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "1",
            "approver": "Huang Wei <gm@example.com>",
            "reason": "(none given)",
            "tag": "[PLAN] XT-2026-0015",
        },
    },
    "participant/plan_approved": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "2",
            "author": "赵磊 <zhao.lei@example.com>",
            "approvals": [
                "何军 <finance.lead@example.com>：同意 2026年3月20日（周五） 11:00",
                "黄伟 <gm@example.com>：同意 2026年3月20日（周五） 15:00",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "1",
            "author": "Zhao Lei <zhao.lei@example.com>",
            "approvals": ["He Jun <finance.lead@example.com>: approved Fri 2026-03-20 11:00"],
        },
    },
    "sender/plan_recorded": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "consolidated": True,
            "department": "信息部",
            "version": "2",
            "attachments": ["总体方案.pdf (1.2 MB)", "责任矩阵.xlsx (20 KB)"],
            "next_step": (
                "已按顺序送审批人审批：何军 <finance.lead@example.com>、黄伟 <gm@example.com>。"
            ),
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "consolidated": False,
            "department": "Finance",
            "version": "1",
            "attachments": [],
            "next_step": "",
        },
    },
    "sender/plan_not_taken": {
        "zh": {
            "subject": "[方案] XT-2026-0015 财务部方案",
            "number": "XT-2026-0015",
            "reason": "需求 XT-2026-0015 的会议纪要尚未定稿；纪要定稿后再提交方案。",
        },
        "en": {
            "subject": "[PLAN] our plan",
            "number": "",
            "reason": "The subject names no request number we know.",
        },
    },
    "requester/acceptance_form": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "deliverable": "接口与测试报告",
            "acceptance": "三家试点零差错",
            "owner": "王强 <wang.qiang@example.com>",
            "acceptor": "李娜 <li.na@example.com>",
            "assigned": "2026年3月17日（周二） 10:00",
            "due": "2026年4月10日（周五）",
            "submitted": "2026年4月8日（周三） 16:00",
            "deadline": "2026年4月9日（周四） 18:00",
            "attachments": ["测试报告.pdf (220 KB)"],
            "note": "完成，测试报告见附件。",
            "keywords": [
                "验收通过（验收结果：通过）",
                "退回：理由（验收结果：不通过，写明需要修改之处）",
            ],
            **_BY_OFFICE["zh"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "Interface development",
            "deliverable": "Interface and test report",
            "acceptance": "",
            "owner": "Wang Qiang <wang.qiang@example.com>",
            "acceptor": "Li Na <li.na@example.com>",
            "assigned": "",
            "due": "Fri 2026-04-10",
            "submitted": "Wed 2026-04-08 16:00 (Asia/Shanghai)",
            "deadline": "Thu 2026-04-09 18:00 (Asia/Shanghai)",
            "attachments": [],
            "note": "",
            "keywords": [
                "ACCEPT (result: accepted)",
                "RETURN: reason (result: not accepted, what must change)",
            ],
            **_BY_OFFICE["en"],
        },
    },
    "requester/invalid_request": {
        "zh": {
            "subject": "[需求] 供应商对账",
            "problems": [
                "「接收部门」未填写",
                "「期望完成时间」不是可识别的日期：下月底"
                "（请写成 2026-03-31、2026/3/31 或 2026年3月31日）",
            ],
            "form": [
                ("需求名称", "供应商对账"),
                ("发起部门", "财务部"),
                ("接收部门", ""),
                ("背景与目标", "每月手工对账耗时过长"),
                ("期望完成时间", ""),
                ("紧急程度", "一般"),
                ("所需资源", ""),
                ("验收标准", ""),
            ],
            **_BY_OFFICE["zh"],
        },
        "en": {
            "subject": "[REQUEST] Supplier reconciliation",
            "problems": [
                "Receiving departments is missing",
                "Urgency must be normal, urgent or critical: asap",
            ],
            "form": [
                ("Title", "Supplier reconciliation"),
                ("Requesting department", "Finance"),
                ("Receiving departments", ""),
                ("Background", "Manual reconciliation takes too long"),
                ("Due", "2026-03-31"),
                ("Urgency", ""),
                ("Resources", ""),
                ("Acceptance criteria", ""),
            ],
            **_BY_OFFICE["en"],
        },
    },
    "reporter/issue_acknowledged": {
        "zh": {
            "reference": "XT-2026-0012/RW-0003",
            "description": "对账接口调用 ERP 时频繁超时，\n导致对账单无法生成。",
            "urgency": "特急",
            "meeting_by": "2026年3月18日（周三） 10:30",
            "attachments": ["超时日志.txt (3 KB)"],
            "has_attachments": True,
        },
        "en": {
            "reference": "XT-2026-0012",
            "description": "The ERP interface times out; no statement can be generated.",
            "urgency": "critical",
            "meeting_by": "Wed 2026-03-18 10:30 (Asia/Shanghai)",
            "attachments": [],
            "has_attachments": False,
        },
    },
    "reporter/issue_invalid": {
        "zh": {
            "subject": "[问题] 接口超时",
            "problems": ["「所属任务」未填写", "「问题描述」未填写"],
            "form": [
                ("所属任务", ""),
                ("所属需求", ""),
                ("问题描述", ""),
                ("影响范围", "全部供应商"),
                ("已尝试方案", ""),
                ("所需支持", ""),
                ("紧急程度", "紧急"),
            ],
        },
        "en": {
            "subject": "[ISSUE] Interface timeout",
            "problems": ["Description is missing"],
            "form": [
                ("Task", "RW-0003"),
                ("Request", ""),
                ("Description", ""),
                ("Impact", ""),
                ("Tried", ""),
                ("Support needed", ""),
                ("Urgency", ""),
            ],
        },
    },
    "sender/reply_not_understood": {
        "zh": {
            "subject": "回复: [纪要] XT-2026-0015 启动会会议纪要",
            "keywords": [
                "纪要确认：确认 / 有异议：理由",
                "任务：收到 / 申请改期：日期 理由 / 进度：60% 说明 / 风险：说明 / 完成",
            ],
        },
        "en": {
            "subject": "RE: something we never sent",
            "keywords": [],
        },
    },
    "signer/receipt": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "action_label": "任务进度",
            "detail": "进度 60%：对账单自动生成已完成开发，\n正在与 ERP 联调。",
            "at": "2026年3月16日（周一） 10:24",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "action_label": "minutes confirmed",
            "detail": "",
            "at": "Mon 2026-03-16 10:24 (Asia/Shanghai)",
        },
    },
    "sender/held_for_review": {
        "zh": {
            "subject": "[纪要] XT-2026-0015 启动会会议纪要",
            "reason_text": (
                "您的发件地址 wang.qiang@example.com 不是原邮件的收件地址，"
                "也不是通讯录中登记的代理人。"
            ),
            "number": "XT-2026-0015",
        },
        "en": {
            "subject": "Re: minutes",
            "reason_text": (
                "Your mail does not answer a mail the coordination mailbox sent to you, "
                "so it cannot be tied to a sign-off that was asked of you."
            ),
            "number": "",
        },
    },
    "office/held_for_review": {
        "zh": {
            "number": "XT-2026-0015",
            "sender": "王强 <wang.qiang@example.com>",
            "subject": "回复: [纪要] XT-2026-0015 启动会会议纪要",
            "reason_code": "wrong_sender",
            "reason_text": (
                "发件人 wang.qiang@example.com 不是原邮件的收件人"
                "（李娜 li.na@example.com），也不是通讯录中登记的代理人。"
            ),
            "action_label": "纪要确认",
            "review_id": "12",
            "command": "liaison review approve 12",
            "reject_command": "liaison review reject 12",
        },
        "en": {
            "number": "",
            "sender": "Li Na <li.na@example.com>",
            "subject": "Re: minutes",
            "reason_code": "no_reference",
            "reason_text": (
                "The reply names no mail sent by the coordination mailbox "
                "(no reply address token, In-Reply-To or References)."
            ),
            "action_label": "minutes confirmed",
            "review_id": "13",
            "command": "liaison review approve 13",
            "reject_command": "liaison review reject 13",
        },
    },
    "requester/returned": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "reason": (
                "背景与目标不够明确，请补充预期收益（如每月可节省的工时），\n并确认采购部的对接人。"
            ),
            "form": [
                ("需求名称", "供应商对账流程线上化"),
                ("发起部门", "财务部"),
                ("接收部门", "研发部、采购部"),
                ("背景与目标", "目前每月与 40 余家供应商手工对账，耗时约 5 个工作日。"),
                ("期望完成时间", "2026-03-31"),
                ("紧急程度", "紧急"),
                ("所需资源", "研发部开发 1 人，采购部对接人 1 人"),
                ("验收标准", ""),
            ],
            "tag": "[需求]",
            **_BY_OFFICE["zh"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "reason": "Please state the expected benefit and name a contact in Purchasing.",
            "form": [
                ("Title", "Supplier reconciliation online"),
                ("Requesting department", "Finance"),
                ("Receiving departments", "R&D, Purchasing"),
                ("Background", "Reconciling with 40 suppliers by hand takes 5 days a month."),
                ("Due", "2026-03-31"),
                ("Urgency", "urgent"),
                ("Resources", ""),
                ("Acceptance criteria", ""),
            ],
            "tag": "[REQUEST]",
            **_BY_OFFICE["en"],
        },
    },
    "requester/accepted": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "lead_department": "研发部",
            "supporting_departments": "采购部、财务部",
            "next_step": "启动会正在安排，会议邀请将另行发送。",
            "deadline": "2026年3月18日（周三） 18:00",
            **_BY_OFFICE["zh"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "lead_department": "R&D",
            "supporting_departments": "",
            "next_step": (
                "The kickoff meeting is being scheduled; the invitation follows separately."
            ),
            "deadline": "Wed 2026-03-18 18:00 (Asia/Shanghai)",
            **_BY_OFFICE["en"],
        },
    },
    "sender/not_applicable": {
        "zh": {
            "subject": "回复: [任务] XT-2026-0015 RW-0003 对账单模板设计",
            "number": "XT-2026-0015",
            "keyword": "收到",
            "state_text": (
                "任务 RW-0003 已于 2026年3月16日（周一） 10:05 确认收到，"
                "目前进行中，截止日期为 2026年3月27日（周五）。"
            ),
            "keywords": ["任务：申请改期：日期 理由 / 进度：60% 说明 / 风险：说明 / 完成"],
        },
        "en": {
            "subject": "RE: [EVALUATION] XT-2026-0015 Supplier reconciliation online",
            "number": "XT-2026-0015",
            "keyword": "ACCEPT",
            "state_text": (
                "The request was accepted on Mon 2026-03-16 14:20 (Asia/Shanghai), "
                "with R&D as the lead department."
            ),
            "keywords": [],
        },
    },
    "office/delivery_failed": {
        "zh": {
            "number": "XT-2026-0015",
            "failed_recipient": "zhang.wei@example.com",
            "status": "5.1.1",
            "original_subject": "[任务] XT-2026-0015 RW-0003 对账单模板设计",
            "original_message_id": (
                "<task.xt-2026-0015.rw-0003.20260316090014.k3f9@coord.example.com>"
            ),
            "diagnostic": (
                "smtp; 550 5.1.1 <zhang.wei@example.com>: Recipient address rejected: "
                "User unknown in virtual mailbox table"
            ),
        },
        "en": {
            "number": "",
            "failed_recipient": "li.na@example.com",
            "status": "4.2.2",
            "original_subject": "[Weekly digest] 2026-W12",
            "original_message_id": "<notice.20260316090014.a7c2@coord.example.com>",
            "diagnostic": "",
        },
    },
    "office/unknown_department": {
        "zh": {
            "subject": "回复: [评估] XT-2026-0015 供应商对账流程线上化",
            "number": "XT-2026-0015",
            "names": ["市场部：通讯录中没有该部门", "研发：对应多个部门：研发部、研发中心"],
            "keywords": [
                "受理 牵头部门：X 配合部门：Y、Z",
                "退回：理由",
            ],
        },
        "en": {
            "subject": "RE: [EVALUATION] XT-2026-0015 Supplier reconciliation online",
            "number": "XT-2026-0015",
            "names": ["Marketing: unknown", "R&D: ambiguous: R&D Center, R&D Department"],
            "keywords": [
                "ACCEPT lead: X support: Y, Z",
                "RETURN: reason",
            ],
        },
    },
    "attendee/meeting_invitation": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "启动会",
            "start": "2026年3月18日（周三） 14:00",
            "end": "2026年3月18日（周三） 15:30",
            "location": "总部大楼 3 楼第二会议室",
            "online_url": "https://meeting.example.com/j/83920417",
            "agenda": [
                "需求背景与目标说明（财务部 李娜）",
                "牵头部门与配合部门分工确认",
                "任务分解：负责人、交付物与完成时间",
                "风险与所需资源",
            ],
            "attendees": [
                "李娜 <li.na@example.com>, 发起人（财务部）",
                "张伟 <zhang.wei@example.com>, 牵头部门负责人（研发部）",
                "王强 <wang.qiang@example.com>, 配合部门负责人（采购部）",
            ],
            "is_update": False,
            "how_to_move": (
                "牵头部门负责人或协调办公室可回复“改期：2026-03-21 14:00”调整时间；"
                "其他参会人请用日历按钮答复。"
            ),
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "kickoff meeting",
            "start": "Thu 2026-03-19 10:00 (Asia/Shanghai)",
            "end": "Thu 2026-03-19 11:30 (Asia/Shanghai)",
            "location": "",
            "online_url": "https://meeting.example.com/j/83920417",
            "agenda": ["Background and goal of the request", "Split of work between departments"],
            "attendees": [
                "Li Na <li.na@example.com>, requester (Finance)",
                "Zhang Wei <zhang.wei@example.com>, head of the lead department (R&D)",
                "Wang Qiang <wang.qiang@example.com>, head of a supporting department (Purchasing)",
            ],
            "is_update": True,
            "how_to_move": (
                "The lead or the coordination office may move the meeting by replying "
                "MOVE: 2026-03-21 14:00; everybody else answers with the calendar buttons."
            ),
        },
    },
    "attendee/meeting_cancelled": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "问题协调会",
            "start": "2026年3月24日（周二） 15:00",
            "reason": "ERP 接口超时问题已于会前修复，经牵头部门确认无需再召开会议。",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "problem meeting",
            "start": "Tue 2026-03-24 15:00 (Asia/Shanghai)",
            "reason": "",
        },
    },
    "attendee/agenda_reminder": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "启动会",
            "start": "2026年3月18日（周三） 14:00",
            "location": "总部大楼 3 楼第二会议室",
            "online_url": "https://meeting.example.com/j/83920417",
            "agenda": [
                "需求背景与目标说明（财务部 李娜）",
                "牵头部门与配合部门分工确认",
                "任务分解：负责人、交付物与完成时间",
                "风险与所需资源",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "review meeting",
            "start": "Mon 2026-04-20 09:30 (Asia/Shanghai)",
            "location": "Room 302, Headquarters",
            "online_url": "",
            "agenda": [],
        },
    },
    "lead/attendee_declined": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "启动会",
            "start": "2026年3月18日（周三） 14:00",
            "attendee": "王强 <wang.qiang@example.com>",
            "role_text": "采购部负责人",
            "comment": "当天下午需参加集团供应商大会，\n建议改到 3 月 19 日上午。",
            "how_to_move": (
                "牵头部门负责人或协调办公室可回复“改期：2026-03-21 14:00”调整时间；"
                "其他参会人请用日历按钮答复。"
            ),
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "kickoff meeting",
            "start": "Wed 2026-03-18 14:00 (Asia/Shanghai)",
            "attendee": "Wang Qiang <wang.qiang@example.com>",
            "role_text": "head of Purchasing",
            "comment": "",
            "how_to_move": (
                "The lead or the coordination office may move the meeting by replying "
                "MOVE: 2026-03-21 14:00; everybody else answers with the calendar buttons."
            ),
        },
    },
    "lead/counter_proposal": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "启动会",
            "start": "2026年3月18日（周三） 14:00",
            "proposed_start": "2026年3月19日（周四） 10:00",
            "proposed_end": "2026年3月19日（周四） 11:30",
            "proposer": "王强 <wang.qiang@example.com>",
            "comment": "18 日下午需参加集团供应商大会，19 日上午全天可以。",
            "keywords": [
                "同意改期（按新时间重新发送邀请）",
                "不同意改期（通知提议人维持原时间）",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "kickoff meeting",
            "start": "Wed 2026-03-18 14:00 (Asia/Shanghai)",
            "proposed_start": "Thu 2026-03-19 10:00 (Asia/Shanghai)",
            "proposed_end": "Thu 2026-03-19 11:30 (Asia/Shanghai)",
            "proposer": "Wang Qiang <wang.qiang@example.com>",
            "comment": "",
            "keywords": [
                "APPROVE (send the new time to everyone)",
                "REJECT (keep the current time)",
            ],
        },
    },
    "sender/counter_declined": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_kind": "启动会",
            "start": "2026年3月18日（周三） 14:00",
            "comment": (
                "研发部与财务部 19 日上午均已有安排，维持原时间。"
                "如王经理无法到场，请委派采购部对接人参会。"
            ),
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_kind": "kickoff meeting",
            "start": "Wed 2026-03-18 14:00 (Asia/Shanghai)",
            "comment": "",
        },
    },
    "participant/minutes_for_confirmation": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "1",
            "author": "赵磊 <zhao.lei@example.com>",
            "attendees": [
                "赵磊 <zhao.lei@example.com>, 牵头部门负责人（研发部）",
                "李娜 <li.na@example.com>, 发起人、配合部门负责人（财务部）",
                "王强 <wang.qiang@example.com>, 开发工程师（研发部）",
            ],
            "discussion": (
                "1. 财务部介绍现行对账方式：每月与 40 余家供应商手工对账，耗时约 5 个工作日。\n"
                "2. 研发部评估技术方案：对账单从 ERP 应付模块取数，供应商通过门户在线确认差异。"
            ),
            "decisions": (
                "1. 一期覆盖前 20 家主要供应商，4 月中旬上线试运行。\n"
                "2. 差异确认以供应商门户为准，不再使用邮件往来的纸质对账单。"
            ),
            "action_items": [
                "RW-0001 对账流程梳理｜负责人：李娜 li.na@example.com"
                "｜截止：2026年3月20日（周五）｜交付物：现行对账流程说明、差异类型清单",
                "RW-0002 对账单自动生成开发｜负责人：王强 wang.qiang@example.com"
                "｜截止：2026年4月10日（周五）｜交付物：对账单生成功能、测试报告",
            ],
            "asks_signoff": True,
            "keywords": ["确认（同意纪要内容）", "异议：理由（说明需要修改之处）"],
            "deadline": "2026年3月18日（周三） 18:00",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "2",
            "author": "Zhao Lei <zhao.lei@example.com>",
            "attendees": [
                "Zhao Lei <zhao.lei@example.com>, head of the lead department (R&D)",
                "Li Na <li.na@example.com>, requester, head of a supporting department (Finance)",
                "Wang Qiang <wang.qiang@example.com>, developer (R&D)",
            ],
            "discussion": (
                "Finance reconciles with some 40 suppliers by hand, 5 working days a month.\n"
                "R&D proposes statements generated from ERP and a supplier portal."
            ),
            "decisions": "",
            "action_items": [
                "RW-0001 Reconciliation process | owner: Li Na li.na@example.com"
                " | due: Fri 2026-03-20 | deliverable: current process, list of difference types",
            ],
            "asks_signoff": False,
            "keywords": ["CONFIRM (the minutes are right)", "OBJECT: reason (what must change)"],
            "deadline": "Wed 2026-03-18 18:00 (Asia/Shanghai)",
        },
    },
    "author/minutes_returned": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "problems": [
                "第2项「供应商数据迁移｜负责人：王强」：负责人“王强”在通讯录中不唯一"
                "（王强 wang.qiang@example.com、王强 wang.q2@example.com）",
                "第3项「对账单模板设计｜负责人：李娜｜截止：下月中旬」：截止：无法识别（下月中旬）",
            ],
            "how_to_fix": "请修改后以主题“[纪要] XT-2026-0015”重新发送整份纪要。",
        },
        "en": {
            "number": "",
            "title": "",
            "problems": ["no request number in the subject: [MINUTES] kickoff minutes"],
            "how_to_fix": (
                "Please send the whole minutes again with the request number in the subject, "
                "e.g. '[MINUTES] XT-2026-0015'."
            ),
        },
    },
    "author/minutes_objection": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "1",
            "head": "李娜 <li.na@example.com>",
            "reason": "RW-0001 截止时间过紧：3月20日前财务部需完成月结，\n建议调整为3月27日。",
            "how_to_fix": "请修改后以主题“[纪要] XT-2026-0015”发送新版本，确认将重新开始。",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "2",
            "head": "Li Na <li.na@example.com>",
            "reason": "",
            "how_to_fix": (
                "Send a new version with the subject '[MINUTES] XT-2026-0015'; "
                "confirmation starts again."
            ),
        },
    },
    "participant/minutes_final": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "version": "2",
            "confirmations": [
                "赵磊（研发部）2026年3月17日 10:20",
                "李娜（财务部）2026年3月17日 14:05",
            ],
            "tasks": [
                "RW-0001 对账流程梳理｜负责人：李娜 li.na@example.com"
                "｜截止：2026年3月27日（周五）｜交付物：现行对账流程说明、差异类型清单",
                "RW-0002 对账单自动生成开发｜负责人：王强 wang.qiang@example.com"
                "｜截止：2026年4月10日（周五）｜交付物：对账单生成功能、测试报告",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "version": "1",
            "confirmations": ["Zhao Lei (R&D) Tue 2026-03-17 10:20 (Asia/Shanghai)"],
            "tasks": [],
        },
    },
    "owner/task_assignment": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0001",
            "task_title": "对账流程梳理",
            "due": "2026年3月27日（周五）",
            "deliverable": "现行对账流程说明、差异类型清单",
            "acceptance": "覆盖前 20 家主要供应商的对账场景",
            "collaborators": [
                "王强 <wang.qiang@example.com>",
                "赵磊 <zhao.lei@example.com>",
            ],
            "lead_department": "研发部",
            "keywords": [
                "收到（确认期限）",
                "申请改期：日期 理由",
                "进度：60% 说明",
                "风险：说明",
                "完成（附交付物）",
            ],
            "ack_deadline": "2026年3月18日（周三） 18:00",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "Statement generation",
            "due": "Fri 2026-04-10",
            "deliverable": "statement generation, test report",
            "acceptance": "",
            "collaborators": [],
            "lead_department": "R&D",
            "keywords": [
                "ACK (deadline accepted)",
                "RESCHEDULE: date reason",
                "PROGRESS: 60% note",
                "RISK: note",
                "DONE (deliverable attached)",
            ],
            "ack_deadline": "Wed 2026-03-18 18:00 (Asia/Shanghai)",
        },
    },
    "lead/date_change_request": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "owner": "王强 <wang.qiang@example.com>",
            "current_due": "2026年4月10日（周五）",
            "requested_due": "2026年4月17日（周五）",
            "reason": "ERP 应付模块升级推迟到 4 月 8 日，接口联调需顺延一周",
            "keywords": ["同意改期（采用新期限）", "不同意改期（维持原期限）"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "owner": "Wang Qiang <wang.qiang@example.com>",
            "current_due": "Fri 2026-04-10",
            "requested_due": "Fri 2026-04-17",
            "reason": "",
            "keywords": ["APPROVE (take the new date)", "REJECT (keep the current date)"],
        },
    },
    "owner/date_change_decided": {
        "zh": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "approved": True,
            "due": "2026年4月17日（周五）",
            "decided_by": "赵磊",
        },
        "en": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "approved": False,
            "due": "Fri 2026-04-10",
            "decided_by": "Zhao Lei",
        },
    },
    "requester/acceptance_request": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "owner": "王强 <wang.qiang@example.com>",
            "deliverable": "对账接口、接口说明文档、联调测试报告",
            "acceptance": "与 ERP 应付模块联调通过，单次对账单生成不超过 5 秒",
            "attachments": ["接口说明文档v1.0.docx (236 KB)", "联调测试报告.pdf (1.1 MB)"],
            "note": (
                "对账接口已部署到测试环境，与 ERP 应付模块联调通过。\n"
                "测试报告见附件，平均生成时间 2.3 秒。"
            ),
            "keywords": ["验收通过", "退回：理由（说明需要修改之处）"],
            "deadline": "2026年4月14日（周二） 18:00",
            **_BY_OFFICE["zh"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "owner": "Wang Qiang <wang.qiang@example.com>",
            "deliverable": "reconciliation interface, interface document, test report",
            "acceptance": "",
            "attachments": [],
            "note": "",
            "keywords": ["ACCEPT", "RETURN: reason"],
            "deadline": "Tue 2026-04-14 18:00 (Asia/Shanghai)",
            **_BY_OFFICE["en"],
        },
    },
    "owner/deliverable_returned": {
        "zh": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "reviewer": "赵磊 <zhao.lei@example.com>",
            "reason": (
                "接口说明文档缺少错误码说明；\n联调测试报告未覆盖差异回写场景，请补充后重新提交。"
            ),
            "due": "2026年4月17日（周五）",
        },
        "en": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "reviewer": "Zhao Lei <zhao.lei@example.com>",
            "reason": "",
            "due": "Fri 2026-04-17",
        },
    },
    "owner/deliverable_accepted": {
        "zh": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "reviewer": "赵磊 <zhao.lei@example.com>",
            "at": "2026年4月16日（周四） 15:20",
        },
        "en": {
            "number": "XT-2026-0015",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "reviewer": "Zhao Lei <zhao.lei@example.com>",
            "at": "Thu 2026-04-16 15:20 (Asia/Shanghai)",
        },
    },
    "awaited/reminder": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "what": "审阅启动会纪要（第2版）并回复“确认”或“异议”",
            "since": "2026年3月17日（周二） 10:20",
            "due": "2026年3月18日（周三） 10:20",
            "how": (
                "请直接回复原纪要邮件（保留主题中的“[纪要] XT-2026-0015”），"
                "在正文第一行写明“确认”或“异议：理由”。"
            ),
            "original_subject": "[纪要] XT-2026-0015 供应商对账流程线上化（第2版）",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "what": "the minutes of the kickoff meeting held Mon 2026-03-16",
            "since": "Mon 2026-03-16 16:00 (Asia/Shanghai)",
            "due": "Tue 2026-03-17 16:00 (Asia/Shanghai)",
            "how": (
                "Please mail the minutes to the coordination mailbox "
                "with '[MINUTES] XT-2026-0015' in the subject."
            ),
            "original_subject": "",
        },
    },
    "owner/progress_request": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0001",
            "task_title": "对账流程梳理",
            "due": "2026年3月27日（周五）",
            "deadline": "2026年3月20日（周五） 18:00",
            "progress": "40%",
            "last_report": "2026年3月13日（周五） 16:20 进度 40%：前 10 家供应商已梳理",
            "keywords": [
                "进度：60% 说明（本周完成情况、下一步计划）",
                "风险：说明（存在问题、需协调事项）",
                "完成（附交付物）",
                "申请改期：日期 理由",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "due": "Fri 2026-04-10",
            "deadline": "Fri 2026-03-20 18:00 (Asia/Shanghai)",
            "progress": "",
            "last_report": "",
            "keywords": [
                "PROGRESS: 60% note (done this week, next steps)",
                "RISK: note (problems, what needs coordinating)",
                "DONE (deliverable attached)",
                "RESCHEDULE: date reason",
            ],
        },
    },
    "owner/risk_warning": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0001",
            "task_title": "对账流程梳理",
            "owner": "李娜 <li.na@example.com>",
            "due": "2026年3月27日（周五）",
            "deadline": "2026年3月27日（周五） 18:00",
            "state": "进行中",
            "progress": "60%",
            "last_report": "2026年3月20日（周五） 15:30 进度 60%：规则初稿完成",
            "for_owner": True,
            "keywords": ["完成（附交付物）", "申请改期：日期 理由", "进度：60% 说明", "风险：说明"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "owner": "Wang Qiang <wang.qiang@example.com>",
            "due": "Fri 2026-04-10",
            "deadline": "Fri 2026-04-10 18:00 (Asia/Shanghai)",
            "state": "assigned (not acknowledged)",
            "progress": "",
            "last_report": "",
            "for_owner": False,
            "keywords": [
                "DONE (deliverable attached)",
                "RESCHEDULE: date reason",
                "PROGRESS: 60% note",
                "RISK: note",
            ],
        },
    },
    "owner/overdue_notice": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "task_ref": "RW-0001",
            "task_title": "对账流程梳理",
            "owner": "李娜 <li.na@example.com>",
            "due": "2026年3月27日（周五）",
            "deadline": "2026年3月27日（周五） 18:00",
            "state": "进行中",
            "progress": "80%",
            "last_report": "2026年3月26日（周四） 11:05 风险：外部数据延迟提供",
            "for_owner": False,
            "keywords": ["完成（附交付物）", "申请改期：日期 理由", "进度：60% 说明", "风险：说明"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "task_ref": "RW-0002",
            "task_title": "System interface development",
            "owner": "Wang Qiang <wang.qiang@example.com>",
            "due": "Fri 2026-04-10",
            "deadline": "Fri 2026-04-10 18:00 (Asia/Shanghai)",
            "state": "in progress",
            "progress": "",
            "last_report": "",
            "for_owner": True,
            "keywords": [
                "DONE (deliverable attached)",
                "RESCHEDULE: date reason",
                "PROGRESS: 60% note",
                "RISK: note",
            ],
        },
    },
    "participant/weekly_digest": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "lead_department": "研发部",
            "week": "2026年3月27日（周五）",
            "period_start": "2026年3月20日（周五） 18:00",
            "period_end": "2026年3月27日（周五） 18:00",
            "tasks": "2",
            "open": "2",
            "done": "0",
            "accepted": "0",
            "overdue_count": "1",
            "missing_count": "1",
            "has_overdue": True,
            "has_missing": True,
            "rows": [
                {
                    "ref": "RW-0001",
                    "title": "对账流程梳理",
                    "owner": "李娜 <li.na@example.com>",
                    "collaborators": "王强 <wang.qiang@example.com>",
                    "due": "2026年3月27日（周五）",
                    "state": "进行中",
                    "progress": "60%",
                    "note": "规则初稿完成",
                    "reply": "未回复",
                    "risk": "",
                    "overdue": "是（截止 2026年3月27日（周五））",
                    "missing": True,
                    "late": True,
                },
                {
                    "ref": "RW-0002",
                    "title": "系统接口开发",
                    "owner": "王强 <wang.qiang@example.com>",
                    "collaborators": "",
                    "due": "2026年4月10日（周五）",
                    "state": "已分配（未确认）",
                    "progress": "",
                    "note": "接口文档未到",
                    "reply": "2026年3月26日（周四） 11:05 风险",
                    "risk": "接口文档未到",
                    "overdue": "",
                    "missing": False,
                    "late": False,
                },
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "lead_department": "R&D",
            "week": "Fri 2026-03-20",
            "period_start": "Fri 2026-03-13 18:00 (Asia/Shanghai)",
            "period_end": "Fri 2026-03-20 18:00 (Asia/Shanghai)",
            "tasks": "1",
            "open": "0",
            "done": "1",
            "accepted": "0",
            "overdue_count": "0",
            "missing_count": "0",
            "has_overdue": False,
            "has_missing": False,
            "rows": [
                {
                    "ref": "RW-0001",
                    "title": "Reconciliation rules",
                    "owner": "Emily Clark <emily.clark@example.com>",
                    "collaborators": "",
                    "due": "Fri 2026-03-27",
                    "state": "done (awaiting acceptance)",
                    "progress": "100%",
                    "note": "rules document attached",
                    "reply": "Thu 2026-03-19 17:40 (Asia/Shanghai) done",
                    "risk": "",
                    "overdue": "",
                    "missing": False,
                    "late": False,
                },
            ],
        },
    },
    "superior/escalation": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "awaited": "何军 <finance.lead@example.com>",
            "what": "审阅启动会纪要（第2版）并回复“确认”或“异议”",
            "since": "2026年3月17日（周二） 10:20",
            "due": "2026年3月18日（周三） 10:20",
            "overdue": "已超期 2 个工作日",
            "reminded": True,
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "awaited": "Wang Qiang <wang.qiang@example.com>",
            "what": "acknowledgement of the deadline of task RW-0002 System interface development",
            "since": "Tue 2026-03-17 18:00 (Asia/Shanghai)",
            "due": "Wed 2026-03-18 18:00 (Asia/Shanghai)",
            "overdue": "1 working day overdue",
            "reminded": False,
        },
    },
    "lead/problem_notice": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "problem_id": "3",
            "reference": "XT-2026-0015/RW-0002",
            "summary": "ERP 测试环境不可用，接口联调无法进行",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "owner": "王强 <wang.qiang@example.com>",
            "current_due": "2026年4月10日（周五）",
            "reporter": "王强 <wang.qiang@example.com>",
            "reported_at": "2026年4月1日（周三） 10:20",
            "description": "ERP 测试环境不可用，接口联调无法进行。\n运维预计下周才能恢复。",
            "impact": "接口开发与联调延期，影响月底试运行",
            "tried": "已申请临时测试环境，尚未批复",
            "support": "信息部协调恢复测试环境",
            "urgency": "紧急",
            "meeting_start": "2026年4月2日（周四） 09:00",
            "resolve_by": "2026年4月2日（周四） 10:20",
            "keywords": [
                "解决：解决措施",
                "新期限：日期（可选，任务的新截止时间）",
                "新负责人：姓名或邮箱（可选，改由此人负责任务）",
            ],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "problem_id": "4",
            "reference": "XT-2026-0015",
            "summary": "Supplier master data is incomplete",
            "task_ref": "",
            "task_title": "",
            "owner": "",
            "current_due": "",
            "reporter": "Emily Clark <emily.clark@example.com>",
            "reported_at": "Wed 2026-04-01 10:20 (Asia/Shanghai)",
            "description": "Supplier master data is incomplete for 12 suppliers.",
            "impact": "",
            "tried": "",
            "support": "",
            "urgency": "normal",
            "meeting_start": "",
            "resolve_by": "Thu 2026-04-02 10:20 (Asia/Shanghai)",
            "keywords": [
                "RESOLVED: the measures",
                "due: date (optional, the task's new deadline)",
                "owner: name or address (optional, who takes the task over)",
            ],
        },
    },
    "participant/problem_resolved": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "problem_id": "3",
            "reference": "XT-2026-0015/RW-0002",
            "summary": "ERP 测试环境不可用，接口联调无法进行",
            "description": "ERP 测试环境不可用，接口联调无法进行。",
            "measures": "信息部 4 月 8 日前恢复测试环境；接口联调改由李娜负责",
            "resolved_by": "赵磊 <zhao.lei@example.com>",
            "resolved_at": "2026年4月2日（周四） 11:00",
            "task_ref": "RW-0002",
            "task_title": "系统接口开发",
            "new_due": "2026年4月17日（周五）",
            "owner": "李娜 <li.na@example.com>",
            "new_owner": "李娜 <li.na@example.com>",
            "previous_owner": "王强 <wang.qiang@example.com>",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "problem_id": "4",
            "reference": "XT-2026-0015",
            "summary": "Supplier master data is incomplete",
            "description": "Supplier master data is incomplete for 12 suppliers.",
            "measures": "Purchasing completes the master data this week.",
            "resolved_by": "Zhao Lei <zhao.lei@example.com>",
            "resolved_at": "Thu 2026-04-02 11:00 (Asia/Shanghai)",
            "task_ref": "",
            "task_title": "",
            "new_due": "",
            "owner": "",
            "new_owner": "",
            "previous_owner": "",
        },
    },
    "lead/review_request": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "meeting_start": "2026年4月20日（周一） 10:00",
            "location": "3 楼第二会议室",
            "review_by": "2026年4月23日（周四） 18:00",
            "tasks": [
                "RW-0001 对账规则整理（李娜 <li.na@example.com>）",
                "RW-0002 系统接口开发（王强 <wang.qiang@example.com>）",
            ],
            "problems": ["3 ERP 测试环境不可用，接口联调无法进行"],
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "meeting_start": "Mon 2026-04-20 10:00 (Asia/Shanghai)",
            "location": "",
            "review_by": "Thu 2026-04-23 18:00 (Asia/Shanghai)",
            "tasks": ["RW-0001 Reconciliation rules (Li Na <li.na@example.com>)"],
            "problems": [],
        },
    },
    "author/review_returned": {
        "zh": {
            "subject": "[复盘] XT-2026-0015 复盘报告",
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "problems": ["缺少“不足”", "缺少“改进措施”"],
        },
        "en": {
            "subject": "[REVIEW] XT-2026-0099 lessons learned",
            "number": "",
            "title": "",
            "problems": [
                "the review names no known request number (write '[REVIEW] NUMBER' in the subject)"
            ],
        },
    },
    "participant/archive_dossier": {
        "zh": {
            "number": "XT-2026-0015",
            "title": "供应商对账流程线上化",
            "requester": "李娜 <li.na@example.com>",
            "lead_department": "财务部",
            "archived_at": "2026年4月21日（周二） 09:30",
            "review_author": "赵磊 <zhao.lei@example.com>",
            "successes": "每周进度同步及时，问题当天协调解决",
            "shortcomings": "需求变更未及时书面确认",
            "improvements": "1. 变更一律书面确认（李娜，4月30日前）\n2. 启动会前发送材料清单",
            "meetings": "3",
            "tasks": "2",
            "problems": "1",
            "attached": True,
            "file_name": "XT-2026-0015-dossier.html",
            "size": "86 KB",
            "export_command": "liaison export XT-2026-0015 --format zip",
        },
        "en": {
            "number": "XT-2026-0015",
            "title": "Supplier reconciliation online",
            "requester": "Li Na <li.na@example.com>",
            "lead_department": "Finance",
            "archived_at": "Tue 2026-04-21 09:30 (Asia/Shanghai)",
            "review_author": "Zhao Lei <zhao.lei@example.com>",
            "successes": "Weekly progress kept everyone informed.",
            "shortcomings": "Changes were agreed by phone only.",
            "improvements": "Confirm every change in writing.",
            "meetings": "2",
            "tasks": "1",
            "problems": "0",
            "attached": False,
            "file_name": "XT-2026-0015-dossier.html",
            "size": "6.2 MB",
            "export_command": "liaison export XT-2026-0015 --format zip",
        },
    },
}

_SUFFIX = {"subject": "subject", "text": "txt", "html": "html"}


def _golden_path(name: str, language: str, part: str) -> Path:
    return GOLDEN / f"{name}.{language}.{_SUFFIX[part]}"


CASES = [(name, language) for name in sorted(CONTEXTS) for language in LANGUAGES]

#: The requester's mails that name who evaluates, as they read where the head of the
#: requester's department evaluates (intra-department): golden files ``<name>.head.*``.
HEAD_EVALUATES: dict[str, dict[str, dict[str, object]]] = {
    name: {language: {**CONTEXTS[name][language], **_BY_HEAD[language]} for language in LANGUAGES}
    for name in ("requester/acknowledged", "requester/accepted", "requester/returned")
}
HEAD_CASES = [(name, language) for name in sorted(HEAD_EVALUATES) for language in LANGUAGES]


@pytest.mark.parametrize(("name", "language"), CASES, ids=[f"{n}.{lang}" for n, lang in CASES])
def test_golden(name: str, language: str) -> None:
    _compare_with_golden(render_mail(name, language, CONTEXTS[name][language]), name, language)


@pytest.mark.parametrize(
    ("name", "language"), HEAD_CASES, ids=[f"{n}.head.{lang}" for n, lang in HEAD_CASES]
)
def test_golden_where_the_department_head_evaluates(name: str, language: str) -> None:
    rendered = render_mail(name, language, HEAD_EVALUATES[name][language])
    _compare_with_golden(rendered, f"{name}.head", language)


#: A problem about the whole request (no task): golden files ``problem_resolved.request.*``.
_REQUEST_LEVEL = {
    "zh": {"new_due": "2026年4月17日（周五）", "new_owner": "李娜 <li.na@example.com>"},
    "en": {"new_due": "Fri 2026-04-17", "new_owner": "Li Na <li.na@example.com>"},
}
_NO_TASK = {"reference": "XT-2026-0015", "task_ref": "", "task_title": "", "owner": ""}


@pytest.mark.parametrize("language", LANGUAGES)
def test_golden_of_a_problem_about_the_whole_request(language: str) -> None:
    name = "participant/problem_resolved"
    context = {
        **CONTEXTS[name][language],
        **_NO_TASK,
        "previous_owner": "",
        **_REQUEST_LEVEL[language],
    }
    rendered = render_mail(name, language, context)
    _compare_with_golden(rendered, f"{name}.request", language)
    for part in (rendered.text, rendered.html):
        assert "RW-" not in part
        assert _REQUEST_LEVEL[language]["new_due"] in part.split("XT-2026-0015", 2)[-1]


def _compare_with_golden(rendered: RenderedMail, name: str, language: str) -> None:
    for part in ("subject", "text", "html"):
        path = _golden_path(name, language, part)
        actual: str = getattr(rendered, part)
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        assert path.is_file(), f"no golden file {path}; run with LIAISON_UPDATE_GOLDEN=1"
        assert actual == path.read_text(encoding="utf-8"), f"{path} differs"


def test_every_mail_has_a_golden_test() -> None:
    assert set(available_mails()) == set(CONTEXTS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_where_the_department_head_evaluates_no_requester_mail_names_the_office(
    language: str,
) -> None:
    office = {"zh": "协调办公室", "en": "coordination office"}[language]
    head = {"zh": "财务部负责人何军", "en": "He Jun (head of Finance)"}[language]
    signature = _BY_HEAD[language]["signature"]
    requester_mails = [name for name in available_mails() if name.startswith("requester/")]
    assert len(requester_mails) == 6
    for name in requester_mails:
        rendered = render_mail(name, language, {**CONTEXTS[name][language], **_BY_HEAD[language]})
        for part in (rendered.subject, rendered.text, rendered.html):
            assert office not in part.lower(), name
        assert rendered.text.endswith(f"\n{signature}\n{_SENT_BY[language]}\n"), name
        assert f'<p class="footer">{signature}<br>' in rendered.html, name
        if name in HEAD_EVALUATES:
            assert head in rendered.text and head in rendered.html, name
    # The office's own wording where it evaluates, in the text and the HTML footer.
    rendered = render_mail(
        "requester/acknowledged", language, CONTEXTS["requester/acknowledged"][language]
    )
    assert office in rendered.text.lower() and office in rendered.html.lower()


_SENT_BY = {
    "zh": "（本邮件由协调邮箱自动发送）",
    "en": "(sent automatically by the coordination mailbox)",
}


def test_every_zh_template_has_an_en_twin() -> None:
    files = {p.relative_to(TEMPLATE_DIR).as_posix() for p in TEMPLATE_DIR.rglob("*.j2")}
    zh = {f for f in files if ".zh." in f}
    assert zh, "no Chinese templates found"
    assert not {f.replace(".zh.", ".en.") for f in zh} - files
    assert not {f.replace(".en.", ".zh.") for f in files if ".en." in f} - files
    # and every mail is complete: three parts in each language
    for name in available_mails():
        for language in LANGUAGES:
            for part in ("subject", "txt", "html"):
                assert f"{name}.{language}.{part}.j2" in files


def test_subjects_carry_number_and_tag() -> None:
    zh = render_mail("office/evaluation_notice", "zh", _REQUEST["zh"])
    en = render_mail("office/evaluation_notice", "en", _REQUEST["en"])
    assert zh.subject == "[评估] XT-2026-0015 供应商对账流程线上化"
    assert en.subject == "[EVALUATION] XT-2026-0015 Supplier reconciliation online"
    ack = render_mail("requester/acknowledged", "zh", CONTEXTS["requester/acknowledged"]["zh"])
    assert ack.subject == "[需求已登记] XT-2026-0015 供应商对账流程线上化"


def test_evaluation_notice_lists_the_reply_keywords() -> None:
    zh = render_mail("office/evaluation_notice", "zh", _REQUEST["zh"])
    en = render_mail("office/evaluation_notice", "en", _REQUEST["en"])
    assert "受理 牵头部门：" in zh.text and "配合部门：" in zh.text and "退回：" in zh.text
    assert "ACCEPT lead: " in en.text and "support: " in en.text and "RETURN: " in en.text


def test_problem_reply_lists_every_problem_and_the_form() -> None:
    context = CONTEXTS["requester/invalid_request"]["zh"]
    rendered = render_mail("requester/invalid_request", "zh", context)
    problems = context["problems"]
    form = context["form"]
    assert isinstance(problems, list) and isinstance(form, list)
    for problem in problems:
        assert f"- {problem}\n" in rendered.text
    for label, value in form:
        assert f"\n{label}：{value}\n" in rendered.text


def test_missing_context_values_are_all_named() -> None:
    context = dict(CONTEXTS["requester/acknowledged"]["zh"])
    del context["title"]
    del context["deadline"]
    with pytest.raises(MissingContextError) as caught:
        render_mail("requester/acknowledged", "zh", context)
    assert caught.value.missing == ("deadline", "title")


def test_the_environment_is_strict() -> None:
    with pytest.raises(jinja2.UndefinedError):
        ENVIRONMENT.from_string("{{ nothing }}").render()
    with pytest.raises(jinja2.UndefinedError):
        ENVIRONMENT.from_string("{% if nothing %}x{% endif %}").render()
    with pytest.raises(jinja2.UndefinedError):
        ENVIRONMENT.from_string("{{ item.missing }}").render(item={})


def test_values_must_arrive_formatted() -> None:
    context = dict(CONTEXTS["requester/acknowledged"]["en"])
    context["due"] = None
    with pytest.raises(UnformattedValueError):
        render_mail("requester/acknowledged", "en", context)


def test_html_escapes_values_and_text_does_not() -> None:
    context = dict(_REQUEST["zh"])
    context["title"] = "<script>alert('x')</script> & co"
    rendered = render_mail("office/evaluation_notice", "zh", context)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in rendered.html
    assert "<script>alert('x')</script> & co" in rendered.text
    assert rendered.subject == "[评估] XT-2026-0015 <script>alert('x')</script> & co"


def test_subject_is_one_line_even_when_a_value_is_not() -> None:
    context = dict(CONTEXTS["requester/acknowledged"]["en"])
    context["title"] = "two\r\nlines\u2028and more"
    rendered = render_mail("requester/acknowledged", "en", context)
    assert rendered.subject == "[Request registered] XT-2026-0015 two lines and more"


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("requester/nothing", "zh"),
        ("requester/acknowledged", "fr"),
        ("../../etc/passwd", "zh"),
        ("requester/acknowledged.zh.txt", "zh"),
        ("layout/base", "zh"),
    ],
)
def test_unknown_mail_or_language(name: str, language: str) -> None:
    with pytest.raises(UnknownTemplateError):
        render_mail(name, language, {})


def test_required_context_matches_what_the_templates_read() -> None:
    assert required_context("sender/reply_not_understood", "zh") == {
        "subject",
        "keywords",
        "signature",  # every mail's sign-off; render_mail supplies the office's by default
    }
    assert isinstance(
        render_mail(
            "sender/reply_not_understood", "en", CONTEXTS["sender/reply_not_understood"]["en"]
        ),
        RenderedMail,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_mail_is_signed_by_the_context_signature_or_the_office(language: str) -> None:
    office = {"zh": "协调办公室", "en": "Coordination office"}[language]
    ours = {"zh": "财务部协调邮箱", "en": "Finance coordination mailbox"}[language]
    for name in available_mails():
        context = CONTEXTS[name][language]
        if "signature" in context or name == "head/evaluation_notice":
            # The requester's mails carry their own; the head's evaluation notice exists
            # only where the department evaluates, and is always signed for it.
            continue
        default = render_mail(name, language, context)
        signed = render_mail(name, language, {**context, "signature": ours})
        assert f"\n{office}\n{_SENT_BY[language]}\n" in default.text, name
        assert f'<p class="footer">{office}<br>' in default.html, name
        assert f"\n{ours}\n{_SENT_BY[language]}\n" in signed.text, name
        assert f'<p class="footer">{ours}<br>' in signed.html, name


_ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "p",
    "h2",
    "table",
    "tr",
    "th",
    "td",
    "ul",
    "li",
    "strong",
    "br",
    "div",
}


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


@pytest.mark.parametrize(("name", "language"), CASES, ids=[f"{n}.{lang}" for n, lang in CASES])
def test_html_uses_only_plain_markup(name: str, language: str) -> None:
    # Catches text such as "<li.na@example.com>" written into a template unescaped.
    collector = _TagCollector()
    collector.feed(render_mail(name, language, CONTEXTS[name][language]).html)
    assert collector.tags <= _ALLOWED_TAGS, collector.tags - _ALLOWED_TAGS

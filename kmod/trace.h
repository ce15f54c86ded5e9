/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cport tracepoints (tracefs events/cport/, or perf -e 'cport:*'): what
 * a study of release policies and of the concurrency value needs to see.
 * Ports are named by a small id (never a kernel pointer), threads by pid.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cport

#if !defined(_CPORT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CPORT_TRACE_H

#include <linux/tracepoint.h>

#include "cport.h"

/* Enums print as names (the values reach user space with their names). */
TRACE_DEFINE_ENUM(CPORT_RUN_SUBMITTER);
TRACE_DEFINE_ENUM(CPORT_RUN_WAITER);
TRACE_DEFINE_ENUM(CPORT_RUN_FALLBACK);
TRACE_DEFINE_ENUM(CPORT_END_POSTED);
TRACE_DEFINE_ENUM(CPORT_END_INLINE);
TRACE_DEFINE_ENUM(CPORT_END_DISCARDED);
TRACE_DEFINE_ENUM(CPORT_OP_RECV);
TRACE_DEFINE_ENUM(CPORT_OP_SEND);
TRACE_DEFINE_ENUM(CPORT_OP_ACCEPT);
TRACE_DEFINE_ENUM(CPORT_OP_CONNECT);
TRACE_DEFINE_ENUM(CPORT_OP_RECVMSG);
TRACE_DEFINE_ENUM(CPORT_OP_SENDMSG);
TRACE_DEFINE_ENUM(CPORT_OP_SENDFILE);
TRACE_DEFINE_ENUM(CPORT_OP_DISCONNECT);
TRACE_DEFINE_ENUM(CPORT_OP_READ);
TRACE_DEFINE_ENUM(CPORT_OP_WRITE);

#define show_cport_run_by(who)					\
	__print_symbolic(who,					\
			 { CPORT_RUN_SUBMITTER,	"submitter" },	\
			 { CPORT_RUN_WAITER,	"waiter" },	\
			 { CPORT_RUN_FALLBACK,	"fallback" })

#define show_cport_op_end(how)					\
	__print_symbolic(how,					\
			 { CPORT_END_POSTED,	"posted" },	\
			 { CPORT_END_INLINE,	"inline" },	\
			 { CPORT_END_DISCARDED,	"discarded" })

#define show_cport_opcode(op)					\
	__print_symbolic(op,					\
			 { CPORT_OP_RECV,	"RECV" },	\
			 { CPORT_OP_SEND,	"SEND" },	\
			 { CPORT_OP_ACCEPT,	"ACCEPT" },	\
			 { CPORT_OP_CONNECT,	"CONNECT" },	\
			 { CPORT_OP_RECVMSG,	"RECVMSG" },	\
			 { CPORT_OP_SENDMSG,	"SENDMSG" },	\
			 { CPORT_OP_SENDFILE,	"SENDFILE" },	\
			 { CPORT_OP_DISCONNECT,	"DISCONNECT" },	\
			 { CPORT_OP_READ,	"READ" },	\
			 { CPORT_OP_WRITE,	"WRITE" })

/* A completion was posted (queued, or handed at once). */
TRACE_EVENT(cport_post,
	    TP_PROTO(u32 port, u64 key, u64 user_data),
	    TP_ARGS(port, key, user_data),
	    TP_STRUCT__entry(__field(u32, port)
			     __field(u64, key)
			     __field(u64, user_data)),
	    TP_fast_assign(__entry->port = port;
			   __entry->key = key;
			   __entry->user_data = user_data;),
	    TP_printk("port=%u key=0x%llx user_data=0x%llx",
		      __entry->port, __entry->key, __entry->user_data)
);

/* A completion was handed to a sleeping waiter, which is woken. */
TRACE_EVENT(cport_handoff,
	    TP_PROTO(u32 port, pid_t pid, u64 user_data),
	    TP_ARGS(port, pid, user_data),
	    TP_STRUCT__entry(__field(u32, port)
			     __field(pid_t, pid)
			     __field(u64, user_data)),
	    TP_fast_assign(__entry->port = port;
			   __entry->pid = pid;
			   __entry->user_data = user_data;),
	    TP_printk("port=%u pid=%d user_data=0x%llx",
		      __entry->port, __entry->pid, __entry->user_data)
);

/* A wait returned completions to user space. */
TRACE_EVENT(cport_dequeue,
	    TP_PROTO(u32 port, u32 nr, bool slept),
	    TP_ARGS(port, nr, slept),
	    TP_STRUCT__entry(__field(u32, port)
			     __field(u32, nr)
			     __field(bool, slept)),
	    TP_fast_assign(__entry->port = port;
			   __entry->nr = nr;
			   __entry->slept = slept;),
	    TP_printk("port=%u nr=%u slept=%d",
		      __entry->port, __entry->nr, __entry->slept)
);

/*
 * An operation on a socket or file finished: res and bytes as the
 * completion will say (also for one cancelled by destroy, whose
 * completion is discarded);
 * how: posted, returned inline, or discarded (enum cport_op_end).
 */
TRACE_EVENT(cport_op_done,
	    TP_PROTO(u32 port, u8 op, u64 user_data, s64 res, u64 bytes,
		     u8 how),
	    TP_ARGS(port, op, user_data, res, bytes, how),
	    TP_STRUCT__entry(__field(u32, port)
			     __field(u8, op)
			     __field(u8, how)
			     __field(u64, user_data)
			     __field(s64, res)
			     __field(u64, bytes)),
	    TP_fast_assign(__entry->port = port;
			   __entry->op = op;
			   __entry->how = how;
			   __entry->user_data = user_data;
			   __entry->res = res;
			   __entry->bytes = bytes;),
	    TP_printk("port=%u op=%s user_data=0x%llx res=%lld bytes=%llu how=%s",
		      __entry->port, show_cport_opcode(__entry->op),
		      __entry->user_data, __entry->res, __entry->bytes,
		      show_cport_op_end(__entry->how))
);

/* A socket's I/O was run; who: enum cport_run_by. */
TRACE_EVENT(cport_sock_run,
	    TP_PROTO(u32 port, u64 key, pid_t pid, u8 who),
	    TP_ARGS(port, key, pid, who),
	    TP_STRUCT__entry(__field(u32, port)
			     __field(pid_t, pid)
			     __field(u64, key)
			     __field(u8, who)),
	    TP_fast_assign(__entry->port = port;
			   __entry->pid = pid;
			   __entry->key = key;
			   __entry->who = who;),
	    TP_printk("port=%u key=0x%llx pid=%d who=%s",
		      __entry->port, __entry->key, __entry->pid,
		      show_cport_run_by(__entry->who))
);

DECLARE_EVENT_CLASS(cport_thread_class,
		    TP_PROTO(u32 port, pid_t pid),
		    TP_ARGS(port, pid),
		    TP_STRUCT__entry(__field(u32, port)
				     __field(pid_t, pid)),
		    TP_fast_assign(__entry->port = port;
				   __entry->pid = pid;),
		    TP_printk("port=%u pid=%d", __entry->port, __entry->pid)
);

/* A running thread blocked elsewhere: its slot is free. */
DEFINE_EVENT(cport_thread_class, cport_blocked,
	     TP_PROTO(u32 port, pid_t pid),
	     TP_ARGS(port, pid)
);

/* A blocked thread runs again and counts again. */
DEFINE_EVENT(cport_thread_class, cport_resumed,
	     TP_PROTO(u32 port, pid_t pid),
	     TP_ARGS(port, pid)
);

/* An associated thread exited. */
DEFINE_EVENT(cport_thread_class, cport_thread_exit,
	     TP_PROTO(u32 port, pid_t pid),
	     TP_ARGS(port, pid)
);

#endif /* _CPORT_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
